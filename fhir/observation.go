package fhir

import (
	"fmt"
	"sort"
	"strings"

	"ekbom"
	"ekbom/kb"
)

// weightTest is the test name codes.yaml gives the body-weight LOINC code.
const weightTest = "weight"

// labUnits maps, for each lab test ekbom reads, a folded unit (unitKey) to
// its spelling in the input contract (§1). Anything else is noted and the
// result left out rather than guessed.
var labUnits = map[ekbom.LabTest]map[string]string{
	ekbom.Ferritin:   {"ng/ml": "ng/mL", "ug/l": "ug/L"},
	ekbom.TSAT:       {"%": "%"},
	ekbom.Iron:       {"ug/dl": "ug/dL", "umol/l": "umol/L"},
	ekbom.TIBC:       {"ug/dl": "ug/dL", "umol/l": "umol/L"},
	ekbom.Hemoglobin: {"g/dl": "g/dL", "g/l": "g/L"},
	ekbom.Creatinine: {"mg/dl": "mg/dL", "umol/l": "umol/L"},
	ekbom.EGFR:       {"ml/min/1.73m2": "mL/min/1.73m2"},
	ekbom.CRP:        {"mg/l": "mg/L", "mg/dl": "mg/dL"},
	ekbom.Phosphate:  {"mg/dl": "mg/dL", "mmol/l": "mmol/L"},
}

type labCand struct {
	lab ekbom.Lab
	e   *entry
}

type weightCand struct {
	kg   float64
	date ekbom.Date
	e    *entry
}

// labCode returns the knowledge-base entry for a LOINC code.
func (r *reader) labCode(loinc string) *kb.LabCode {
	for i := range r.b.Codes.Labs {
		if r.b.Codes.Labs[i].LOINC == loinc {
			return &r.b.Codes.Labs[i]
		}
	}
	return nil
}

// label names a code for a note: its text, else a display, else a code.
func label(cc *codeableConcept) string {
	if cc == nil {
		return "no code"
	}
	if cc.Text != "" {
		return truncate(cc.Text, 80)
	}
	for _, c := range cc.Coding {
		if c.Display != "" {
			return truncate(c.Display, 80)
		}
	}
	for _, c := range cc.Coding {
		if c.Code != "" {
			return truncate(c.Code, 40)
		}
	}
	return "no code"
}

// observation reads a lab result or the body weight.
func (r *reader) observation(e *entry) {
	var o observation
	if !decode(r, e, &o) || !r.forPatient(e, o.Subject) {
		return
	}
	var lc *kb.LabCode
	var loincs []string
	for _, c := range o.Code.Coding {
		if c.System != systemLOINC || c.Code == "" {
			continue
		}
		loincs = append(loincs, c.Code)
		if lc == nil {
			lc = r.labCode(c.Code)
		}
	}
	if lc == nil {
		if len(loincs) > 0 {
			r.note(e.name(), "LOINC %s (%s) is not a test ekbom reads", strings.Join(loincs, ", "), label(&o.Code))
		} else {
			r.note(e.name(), "no LOINC code (%s): not read", label(&o.Code))
		}
		return
	}
	what := lc.Test + " (LOINC " + lc.LOINC + ")"
	switch o.Status {
	case "final", "amended", "corrected", "preliminary":
	case "":
		r.note(e.name(), "%s has no status: not read", what)
		return
	default:
		r.note(e.name(), "%s has status %s: not read", what, o.Status)
		return
	}
	date, ok := r.effectiveDate(e, what, o)
	if !ok {
		return
	}
	q := o.ValueQuantity
	if q == nil {
		switch {
		case o.DataAbsentReason != nil:
			r.note(e.name(), "%s has no value (%s)", what, label(o.DataAbsentReason))
		case o.ValueString != nil:
			r.note(e.name(), "%s is text %q, not a quantity: not read", what, truncate(*o.ValueString, 40))
		case len(o.Component) > 0:
			r.note(e.name(), "%s has components only: not read", what)
		default:
			r.note(e.name(), "%s has no valueQuantity: not read", what)
		}
		return
	}
	value, ok := r.number(e.path+".valueQuantity.value", q.Value)
	if !ok {
		if !q.Value.set {
			r.note(e.name(), "%s has no value: not read", what)
		}
		return
	}
	if q.Comparator != "" {
		r.note(e.name(), "%s is %s%s: a bound, not a value; not read", what, q.Comparator, q.Value.Number)
		return
	}
	if lc.Test == weightTest {
		r.weight(e, value, q, date)
		return
	}
	test := ekbom.LabTest(lc.Test)
	units, known := labUnits[test]
	if !known {
		r.note(e.name(), "codes.yaml maps LOINC %s to %q, which ekbom does not read from FHIR", lc.LOINC, lc.Test)
		return
	}
	unit := ""
	for _, k := range quantityUnits(q) {
		if u, ok := units[k]; ok {
			unit = u
			break
		}
	}
	if unit == "" {
		accepted := make([]string, 0, len(units))
		for _, u := range units {
			accepted = append(accepted, u)
		}
		sort.Strings(accepted)
		if t := quantityUnitText(q); t == "" {
			r.note(e.name(), "%s %s has no unit: not read", what, q.Value.Number)
		} else {
			r.note(e.name(), "%s unit %q is not supported (accepted: %s): not read", what, t, strings.Join(accepted, ", "))
		}
		return
	}
	lab := ekbom.Lab{Test: test, Value: value, Unit: unit, Date: date}
	lab.Fasting = r.fasting(e, &o)
	for _, x := range o.Extension {
		if x.URL == IronWithin24hURL && x.ValueBoolean != nil {
			lab.IronSupplementWithin24h = ptr(*x.ValueBoolean)
		}
	}
	r.labs = append(r.labs, labCand{lab: lab, e: e})
}

// effectiveDate returns the day an observation was made: effective[x], else
// issued. A missing, partial or future date leaves the result out.
func (r *reader) effectiveDate(e *entry, what string, o observation) (ekbom.Date, bool) {
	field, s := "", ""
	switch {
	case o.EffectiveDateTime != "":
		field, s = "effectiveDateTime", o.EffectiveDateTime
	case o.EffectivePeriod != nil && o.EffectivePeriod.Start != "":
		field, s = "effectivePeriod.start", o.EffectivePeriod.Start
	case o.EffectivePeriod != nil && o.EffectivePeriod.End != "":
		field, s = "effectivePeriod.end", o.EffectivePeriod.End
	case o.EffectiveInstant != "":
		field, s = "effectiveInstant", o.EffectiveInstant
	case o.Issued != "":
		field, s = "issued", o.Issued
	default:
		r.note(e.name(), "%s has no date: not read", what)
		return ekbom.Date{}, false
	}
	d, prec, ok := parseDate(s)
	switch {
	case !ok:
		r.fail(e.path+"."+field, "%q is not a FHIR dateTime", truncate(s, 40))
	case prec != precDay:
		r.note(e.name(), "%s date %s is not a full date: not read", what, s)
	case d.After(r.asOf):
		r.note(e.name(), "%s dated %s is after as_of %s: not read", what, d, r.asOf)
	default:
		return d, true
	}
	return ekbom.Date{}, false
}

// fasting reads the HL7 v2 table 0916 fasting status of the observation's
// specimen: F fasting, NF not fasting; anything else is unknown (nil).
func (r *reader) fasting(e *entry, o *observation) *bool {
	if o.Specimen == nil || o.Specimen.Reference == "" {
		return nil
	}
	raw, ok := r.resolve(o.Specimen.Reference, o.Contained, "Specimen")
	if !ok {
		r.note(e.name(), "specimen %q is not in the input: fasting status unknown", o.Specimen.Reference)
		return nil
	}
	var s specimen
	if err := decodeJSON(raw, &s); err != nil || s.Collection == nil {
		return nil
	}
	switch s.Collection.FastingStatusCodeableConcept.code(systemFasting) {
	case "F":
		return ptr(true)
	case "NF":
		return ptr(false)
	}
	return nil
}

// weight keeps a body weight in kg.
func (r *reader) weight(e *entry, value float64, q *quantity, date ekbom.Date) {
	for _, k := range quantityUnits(q) {
		if f, ok := kgFactor[k]; ok {
			r.weights = append(r.weights, weightCand{kg: round(value*f, 2), date: date, e: e})
			return
		}
	}
	r.note(e.name(), "body weight unit %q is not supported (kg, g, [lb_av]): not read", quantityUnitText(q))
}

// finishLabs drops exact duplicates (test, date, value and unit) and keeps
// the rest in input order; the engine picks the newest of each test.
func (r *reader) finishLabs() {
	type key struct {
		test  ekbom.LabTest
		date  ekbom.Date
		value float64
		unit  string
	}
	seen := map[key]*entry{}
	for _, c := range r.labs {
		k := key{c.lab.Test, c.lab.Date, c.lab.Value, c.lab.Unit}
		if first, dup := seen[k]; dup {
			r.note(c.e.name(), "%s %s %s on %s repeats %s: dropped", c.lab.Test, fmtNum(c.lab.Value), c.lab.Unit, c.lab.Date, first.name())
			continue
		}
		seen[k] = c.e
		r.origin[fmt.Sprintf("labs[%d]", len(r.p.Labs))] = c.e.path
		r.p.Labs = append(r.p.Labs, c.lab)
	}
}

// finishWeight keeps the newest body weight (the first of the newest day).
func (r *reader) finishWeight() {
	if len(r.weights) == 0 {
		return
	}
	best := 0
	for i, w := range r.weights {
		if w.date.After(r.weights[best].date) {
			best = i
		}
	}
	w := r.weights[best]
	r.p.WeightKg = ptr(w.kg)
	r.origin["weight_kg"] = w.e.path
	for i, o := range r.weights {
		if i != best {
			r.note(o.e.name(), "body weight %s kg on %s: the weight of %s is used", fmtNum(o.kg), o.date, w.date)
		}
	}
}
