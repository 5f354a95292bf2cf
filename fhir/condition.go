package fhir

import (
	"fmt"
	"strings"

	"ekbom"
	"ekbom/kb"
)

// condTable maps SNOMED CT and ICD-10-CM codes to condition ids, from
// kb.Base.Codes.Conditions.
type condTable struct {
	exact     map[string]ekbom.Condition // system|code (ICD-10-CM folded by icdKey)
	families  []icdFamily
	pregnancy map[string]ekbom.Pregnancy // system|code → state, from Codes.Pregnancy
	rls       map[string]bool            // system|code of RLS itself, from Codes.Diagnosis
	rlsNames  []string                   // lower-case names of RLS, from Codes.Diagnosis
}

// icdFamily is an ICD-10-CM category whose every code maps to a condition
// (codes.yaml icd10cm_prefixes).
type icdFamily struct {
	prefix string // folded, e.g. "F11"
	cond   ekbom.Condition
}

func newCondTable(b *kb.Base) condTable {
	t := condTable{exact: map[string]ekbom.Condition{}, pregnancy: map[string]ekbom.Pregnancy{}, rls: map[string]bool{}}
	for _, dc := range b.Codes.Diagnosis {
		if dc.Diagnosis != "rls" || !dc.Verified {
			continue
		}
		for _, s := range dc.SNOMED {
			t.rls[systemSNOMED+"|"+strings.TrimSpace(s)] = true
		}
		for _, s := range dc.ICD10CM {
			t.rls[systemICD10CM+"|"+icdKey(s)] = true
		}
		for _, n := range dc.Names {
			if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
				t.rlsNames = append(t.rlsNames, n)
			}
		}
	}
	for _, pc := range b.Codes.Pregnancy {
		for _, s := range pc.SNOMED {
			t.pregnancy[systemSNOMED+"|"+strings.TrimSpace(s)] = ekbom.Pregnancy(pc.State)
		}
		for _, s := range pc.ICD10CM {
			t.pregnancy[systemICD10CM+"|"+icdKey(s)] = ekbom.Pregnancy(pc.State)
		}
	}
	for _, cc := range b.Codes.Conditions {
		c := ekbom.Condition(cc.Condition)
		for _, s := range cc.SNOMED {
			t.exact[systemSNOMED+"|"+strings.TrimSpace(s)] = c
		}
		for _, s := range cc.ICD10CM {
			t.exact[systemICD10CM+"|"+icdKey(s)] = c
		}
		for _, pre := range cc.ICD10CMPrefixes {
			t.families = append(t.families, icdFamily{prefix: icdKey(pre), cond: c})
		}
	}
	return t
}

// icdKey folds an ICD-10-CM code: upper case, no dot ("f11.20" → "F1120").
func icdKey(code string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), ".", ""))
}

// normSystem maps the other spellings of the SNOMED CT and ICD-10-CM system
// URIs seen in real records to the FHIR ones: their HL7 OIDs (common in
// data converted from C-CDA: 2.16.840.1.113883.6.96 is SNOMED CT,
// 2.16.840.1.113883.6.90 ICD-10-CM) and a trailing slash.
func normSystem(system string) string {
	s := strings.TrimSuffix(strings.TrimSpace(system), "/")
	switch s {
	case systemSNOMED, "urn:oid:2.16.840.1.113883.6.96":
		return systemSNOMED
	case systemICD10CM, "urn:oid:2.16.840.1.113883.6.90":
		return systemICD10CM
	}
	return system
}

func codeKey(system, code string) string {
	if system == systemICD10CM {
		return system + "|" + icdKey(code)
	}
	return system + "|" + strings.TrimSpace(code)
}

// lookup maps one coding to a condition id.
func (t condTable) lookup(c coding) (ekbom.Condition, bool) {
	if c.System != systemSNOMED && c.System != systemICD10CM {
		return "", false
	}
	if cond, ok := t.exact[codeKey(c.System, c.Code)]; ok {
		return cond, true
	}
	if c.System == systemICD10CM {
		k := icdKey(c.Code)
		for _, f := range t.families {
			if strings.HasPrefix(k, f.prefix) {
				return f.cond, true
			}
		}
	}
	return "", false
}

type condCand struct {
	cond   ekbom.Condition
	origin string // JSON path of the resource
	name   string // how notes name it
}

type pregCand struct {
	state  ekbom.Pregnancy
	origin string
	name   string
}

// condition reads a comorbidity, a pregnancy, or the RLS diagnosis itself.
func (r *reader) condition(e *entry) {
	var c condition
	if !decode(r, e, &c) || !r.forPatient(e, c.Subject) {
		return
	}
	what := label(c.Code)
	if c.Code != nil {
		for i := range c.Code.Coding {
			c.Code.Coding[i].System = normSystem(c.Code.Coding[i].System)
		}
	}
	// RLS itself, before the status checks: for the CDS Hooks services a
	// Condition naming RLS shows the patient has it, whatever its clinical
	// status (RLS controlled on treatment may be coded as in remission or
	// inactive); only a refuted or erroneous one does not.
	if coded, named := r.rlsCondition(c.Code); coded || named {
		switch s := firstCode(c.VerificationStatus); s {
		case "refuted", "entered-in-error":
			r.note(e.name(), "%s has verification status %s: not read", what, s)
			return
		}
		r.rls = append(r.rls, e.name())
		r.rlsCond = r.rlsCond || coded
		if !coded {
			r.note(e.name(), "%s: read as restless legs syndrome from its text (no SNOMED CT or ICD-10-CM code for it)", what)
		}
		return
	}
	switch s := firstCode(c.ClinicalStatus); s {
	case "", "active", "recurrence", "relapse":
	default:
		r.note(e.name(), "%s has clinical status %s: not read", what, s)
		return
	}
	switch s := firstCode(c.VerificationStatus); s {
	case "refuted", "entered-in-error":
		r.note(e.name(), "%s has verification status %s: not read", what, s)
		return
	}
	if c.AbatementDateTime != "" || c.AbatementPeriod != nil || c.AbatementString != "" || (c.AbatementBoolean != nil && *c.AbatementBoolean) {
		r.note(e.name(), "%s has abated: not read", what)
		return
	}
	onset, field := c.OnsetDateTime, "onsetDateTime"
	if onset == "" && c.OnsetPeriod != nil {
		onset, field = c.OnsetPeriod.Start, "onsetPeriod.start"
	}
	if onset != "" {
		d, _, ok := parseDate(onset)
		switch {
		case !ok:
			r.fail(e.path+"."+field, "%q is not a FHIR dateTime", truncate(onset, 40))
			return
		case d.After(r.asOf):
			r.note(e.name(), "%s starts %s, after as_of %s: not read", what, d, r.asOf)
			return
		}
	}
	if c.Code == nil {
		r.note(e.name(), "no code: not read")
		return
	}
	found := false
	for _, cd := range c.Code.Coding {
		if state, ok := r.conds.pregnancy[codeKey(cd.System, cd.Code)]; ok {
			r.preg = append(r.preg, pregCand{state: state, origin: e.path, name: e.name()})
			found = true
			continue
		}
		if cond, ok := r.conds.lookup(cd); ok {
			r.condOut = append(r.condOut, condCand{cond: cond, origin: e.path, name: e.name()})
			found = true
		}
	}
	if !found {
		var codes []string
		for _, cd := range c.Code.Coding {
			switch cd.System {
			case systemSNOMED:
				codes = append(codes, "SNOMED CT "+cd.Code)
			case systemICD10CM:
				codes = append(codes, "ICD-10-CM "+cd.Code)
			default:
				codes = append(codes, cd.System+" "+cd.Code)
			}
		}
		if len(codes) == 0 {
			codes = append(codes, "no coding")
		}
		r.note(e.name(), "%s (%s) is not a condition ekbom reads", what, truncate(strings.Join(codes, ", "), 120))
	}
}

// firstCode returns the first code of cc, whatever its system.
func firstCode(cc *codeableConcept) string {
	if cc == nil {
		return ""
	}
	for _, c := range cc.Coding {
		if c.Code != "" {
			return c.Code
		}
	}
	return ""
}

// pregnancyRank orders pregnancy states by how much they restrict the
// plan; when sources disagree the most restrictive is kept.
var pregnancyRank = map[ekbom.Pregnancy]int{ekbom.NotPregnant: 0, ekbom.Lactating: 1, ekbom.Pregnant: 2}

// finishConditions de-duplicates conditions and settles pregnancy. A
// treated sleep apnea (from the questionnaire) replaces the coded one, which
// codes.yaml reads as untreated.
func (r *reader) finishConditions() {
	treated := false
	for _, c := range r.condOut {
		treated = treated || c.cond == ekbom.SleepApneaTreated
	}
	seen := map[ekbom.Condition]bool{}
	for _, c := range r.condOut {
		if c.cond == ekbom.SleepApnea && treated {
			r.note(c.name, "sleep apnea is recorded as treated in the questionnaire: read as sleep_apnea_treated")
			continue
		}
		if seen[c.cond] {
			continue
		}
		seen[c.cond] = true
		r.origin[fmt.Sprintf("conditions[%d]", len(r.p.Conditions))] = c.origin
		r.p.Conditions = append(r.p.Conditions, c.cond)
	}
	if len(r.preg) == 0 {
		return
	}
	best := r.preg[0]
	for _, pc := range r.preg[1:] {
		if pregnancyRank[pc.state] > pregnancyRank[best.state] {
			best = pc
		}
	}
	for _, pc := range r.preg {
		if pc.state != best.state {
			r.note(pc.name, "pregnancy %s disagrees with %s (%s): %s is used", pc.state, best.name, best.state, best.state)
		}
	}
	r.p.Pregnancy = best.state
	r.origin["pregnancy"] = best.origin
}

// rlsCondition reports whether a Condition's code names restless legs
// syndrome: coded (a SNOMED CT or ICD-10-CM code of codes.yaml diagnosis),
// or named (no coding ekbom reads, and its text or a display contains one of
// the diagnosis's names, for records coded locally or not at all).
func (r *reader) rlsCondition(cc *codeableConcept) (coded, named bool) {
	if cc == nil {
		return false, false
	}
	for _, cd := range cc.Coding {
		k := codeKey(cd.System, cd.Code)
		if r.conds.rls[k] {
			return true, false
		}
		if _, ok := r.conds.pregnancy[k]; ok {
			return false, false
		}
		if _, ok := r.conds.lookup(cd); ok {
			return false, false
		}
	}
	texts := []string{cc.Text}
	for _, cd := range cc.Coding {
		texts = append(texts, cd.Display)
	}
	for _, t := range texts {
		t = strings.ToLower(t)
		for _, name := range r.conds.rlsNames {
			if t != "" && strings.Contains(t, name) {
				return false, true
			}
		}
	}
	return false, false
}

// IsRLSCode reports whether a coding (system URL and code) codes restless
// legs syndrome itself in b (codes.yaml diagnosis): SNOMED CT, or
// ICD-10-CM with its dot and case folded. b may be nil for kb.Default().
func IsRLSCode(b *kb.Base, system, code string) bool {
	if b == nil {
		var err error
		if b, err = kb.Default(); err != nil {
			return false
		}
	}
	return tablesFor(b).conds.rls[codeKey(normSystem(system), code)]
}
