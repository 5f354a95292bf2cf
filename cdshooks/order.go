package cdshooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"ekbom"
	"ekbom/engine"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/kb"
)

// draft is one drafted MedicationRequest of context.draftOrders.
type draft struct {
	ref      string // "MedicationRequest/<id>", "" without an id
	path     string // "context.draftOrders.entry[i].resource"
	selected bool   // order-select: in selections; order-sign: always
	// rlsReason: the order's reasonCode codes restless legs syndrome.
	rlsReason bool
	med       *ekbom.Medication
	drug      *kb.Drug // nil when the knowledge base does not know it
}

func (d *draft) name() string { return d.drug.Name }

func (d *draft) display() string {
	if d.med.Resolved.Display != "" {
		return d.med.Resolved.Display
	}
	return d.drug.Name
}

// OrderCheck answers the order-select and order-sign hooks: it checks the
// drafted MedicationRequests against the patient (see the package
// documentation). order-select flags only the selected orders, but every
// draft counts in the totals; order-sign flags all drafts. An order for
// something the knowledge base does not know, or that is not a
// MedicationRequest, is not checked. Bad FHIR in the prefetch or the drafts
// is an *ekbom.ValidationError; a patient under 18 gets no cards.
func OrderCheck(req *Request, eng *engine.Engine, opt Options) (*Result, error) {
	if opt.Now.IsZero() {
		return nil, errors.New("cdshooks: Options.Now is required")
	}
	serviceID := OrderSignID
	if req.Hook == HookOrderSelect {
		serviceID = OrderSelectID
	}
	b := eng.KB()
	asOf := ekbom.DateFromTime(opt.Now)
	base, res, err := readPatient(req.Prefetch, req.Context, b, asOf)
	if err != nil {
		return nil, err
	}
	out := &Result{PatientRef: "Patient/" + req.Context.PatientID, Response: Response{Cards: []Card{}}}
	if res != nil {
		out.Notes = res.Notes
	}
	drafts, err := readDrafts(req, b, asOf)
	if err != nil {
		return nil, err
	}
	if out.Silent = rlsGate(b, req.Prefetch, res, drafts); out.Silent != "" {
		return out, nil
	}
	if base == nil {
		return out, nil
	}
	baseline, err := eng.Evaluate(base)
	if errors.Is(err, ekbom.ErrOutOfScope) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	combined := withDrafts(base, drafts)
	plan, err := eng.Evaluate(combined)
	if err != nil {
		return nil, err
	}
	out.Plan = plan
	oc := &orderCheck{b: b, req: req, base: base, combined: combined, baseline: baseline, plan: plan, drafts: drafts}
	out.Response.Cards = finishCards(oc.cards(), serviceID, req.HookInstance)
	return out, nil
}

// readDrafts reads the MedicationRequests of context.draftOrders, each with
// the prefetch Patient, through the FHIR reader, and normalises them. A
// draft the reader cannot identify is kept with a nil med.
func readDrafts(req *Request, b *kb.Base, asOf ekbom.Date) ([]*draft, error) {
	const root = "context.draftOrders"
	verr := &ekbom.ValidationError{}
	var bu struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(req.Context.DraftOrders, &bu); err != nil {
		jsonProblem(verr, root, err)
		return nil, verr
	}
	if bu.ResourceType != "Bundle" {
		verr.Add(root+".resourceType", "is %q; want Bundle", truncate(bu.ResourceType, 40))
		return nil, verr
	}
	type header struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	// Medications the drafts may reference, by index in the bundle.
	var medIdx []int
	heads := make([]header, len(bu.Entry))
	for i, e := range bu.Entry {
		if isNull(e.Resource) {
			continue
		}
		if err := json.Unmarshal(e.Resource, &heads[i]); err != nil {
			jsonProblem(verr, fmt.Sprintf("%s.entry[%d].resource", root, i), err)
			continue
		}
		if heads[i].ResourceType == "Medication" {
			medIdx = append(medIdx, i)
		}
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	selected := map[string]bool{}
	for _, s := range req.Context.Selections {
		selected[s] = true
	}
	found := map[string]bool{}
	var drafts []*draft
	for i, e := range bu.Entry {
		h := heads[i]
		if h.ResourceType != "" && h.ID != "" {
			found[h.ResourceType+"/"+h.ID] = true
		}
		if h.ResourceType != "MedicationRequest" {
			continue
		}
		d := &draft{path: fmt.Sprintf("%s.entry[%d].resource", root, i)}
		if h.ID != "" {
			d.ref = "MedicationRequest/" + h.ID
		}
		d.selected = req.Hook != HookOrderSelect || selected[d.ref]
		// A draft is read as a current order: the reader skips drafts and
		// proposals otherwise.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(e.Resource, &fields); err != nil {
			jsonProblem(verr, d.path, err)
			continue
		}
		d.rlsReason = rlsReason(b, fields["reasonCode"])
		fields["status"] = json.RawMessage(`"active"`)
		fields["intent"] = json.RawMessage(`"order"`)
		rewritten, err := json.Marshal(fields)
		if err != nil {
			return nil, err
		}
		mini := struct {
			ResourceType string            `json:"resourceType"`
			Type         string            `json:"type"`
			Entry        []json.RawMessage `json:"entry"`
		}{ResourceType: "Bundle", Type: "collection"}
		mini.Entry = append(mini.Entry, entryOf(rewritten))
		for _, j := range medIdx {
			mini.Entry = append(mini.Entry, entryOf(bu.Entry[j].Resource))
		}
		raw, err := json.Marshal(mini)
		if err != nil {
			return nil, err
		}
		paths := func(p string) string {
			if rest, ok := strings.CutPrefix(p, "prefetch.draft.entry["); ok {
				n, tail, _ := strings.Cut(rest, "]")
				k, _ := strconv.Atoi(n)
				if k == 0 {
					return d.path + strings.TrimPrefix(tail, ".resource")
				}
				if k-1 < len(medIdx) {
					return fmt.Sprintf("%s.entry[%d]%s", root, medIdx[k-1], tail)
				}
			}
			return p
		}
		res, err := fhir.ReadPrefetch(map[string]json.RawMessage{KeyPatient: req.Prefetch[KeyPatient], "draft": raw}, b, fhir.Options{AsOf: asOf})
		if err != nil {
			addProblems(verr, err, paths)
			continue
		}
		if err := intake.Normalize(res.Patient, b, intake.Options{}); err != nil && !errors.Is(err, ekbom.ErrOutOfScope) {
			addProblems(verr, res.Locate(err), paths)
			continue
		}
		for j := range res.Patient.Medications {
			m := &res.Patient.Medications[j]
			if !m.IsCurrent() || m.Resolved.Ingredient == "" {
				continue
			}
			if drug, ok := b.Drug(m.Resolved.Ingredient); ok {
				d.med, d.drug = m, drug
				break
			}
		}
		drafts = append(drafts, d)
	}
	for i, s := range req.Context.Selections {
		if !found[s] {
			verr.Add(fmt.Sprintf("context.selections[%d]", i), "%q is not in context.draftOrders", truncate(s, 80))
		}
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return drafts, nil
}

// rlsReason reports whether a MedicationRequest.reasonCode codes restless
// legs syndrome. A reasonCode that is not a list of CodeableConcepts codes
// nothing (the order is still read and checked as before).
func rlsReason(b *kb.Base, raw json.RawMessage) bool {
	var concepts []struct {
		Coding []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"coding"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &concepts) != nil {
		return false
	}
	for _, c := range concepts {
		for _, cd := range c.Coding {
			if fhir.IsRLSCode(b, cd.System, cd.Code) {
				return true
			}
		}
	}
	return false
}

func entryOf(resource json.RawMessage) json.RawMessage {
	raw, _ := json.Marshal(struct {
		Resource json.RawMessage `json:"resource"`
	}{resource})
	return raw
}

// addProblems copies the problems of a validation error into verr with
// their paths rewritten; other errors become one problem.
func addProblems(verr *ekbom.ValidationError, err error, path func(string) string) {
	var ve *ekbom.ValidationError
	if !errors.As(err, &ve) {
		verr.Add("context.draftOrders", "%v", err)
		return
	}
	for _, p := range ve.Problems {
		verr.Problems = append(verr.Problems, ekbom.Problem{Path: path(p.Path), Message: p.Message})
	}
}

// withDrafts returns the patient with the drafted orders among the current
// medications: a drafted ingredient replaces the current order of that
// ingredient (a new dose), several drafts of one ingredient add up.
func withDrafts(p *ekbom.Patient, drafts []*draft) *ekbom.Patient {
	byIngredient := map[string][]*draft{}
	var order []string
	for _, d := range drafts {
		if d.med == nil {
			continue
		}
		id := d.drug.ID
		if byIngredient[id] == nil {
			order = append(order, id)
		}
		byIngredient[id] = append(byIngredient[id], d)
	}
	c := *p
	c.Medications = nil
	for _, m := range p.Medications {
		if m.IsCurrent() && byIngredient[m.Resolved.Ingredient] != nil {
			continue
		}
		c.Medications = append(c.Medications, m)
	}
	for _, id := range order {
		ds := byIngredient[id]
		m := *ds[0].med
		if len(ds) > 1 {
			total := 0.0
			known := true
			for _, d := range ds {
				if d.med.Resolved.DailyMg == nil {
					known = false
					break
				}
				total += *d.med.Resolved.DailyMg
			}
			m.DoseMg, m.TimesPerDay, m.DoseMgPer24h, m.Sig = nil, nil, nil, ""
			m.Resolved.DailyMg, m.Resolved.Bedtime = nil, false
			m.Resolved.Display = fmt.Sprintf("%s (%d draft orders)", ds[0].drug.Name, len(ds))
			if known {
				m.Resolved.DailyMg = &total
				m.Resolved.Display = fmt.Sprintf("%s %s mg/day (%d draft orders)", ds[0].drug.Name, num(total), len(ds))
			}
		}
		m.Status = ekbom.Current
		c.Medications = append(c.Medications, m)
	}
	return &c
}

// orderCheck holds one order check.
type orderCheck struct {
	b              *kb.Base
	req            *Request
	base, combined *ekbom.Patient
	baseline, plan *ekbom.Plan
	drafts         []*draft
	covered        map[string]bool // warning codes a card already shows
	cardsOut       []Card
}

func (oc *orderCheck) cards() []Card {
	oc.covered = map[string]bool{ekbom.WarnAbruptDAStop: true, ekbom.WarnAugmentation: true}
	for _, d := range oc.drafts {
		if d.med == nil || !d.selected {
			continue
		}
		if d.drug.Dopaminergic {
			oc.dopaminergic(d)
		}
		if d.drug.Exacerbator != nil && current(oc.base, d.drug.ID) == nil {
			oc.exacerbator(d)
		}
		if d.drug.Class == "alpha2delta_ligand" {
			oc.renal(d)
		}
	}
	oc.respiratory()
	oc.opioidUseDisorder()
	oc.engineWarnings()
	// Most urgent first; otherwise in the order found.
	var out []Card
	for _, ind := range []string{Critical, Warning, Info} {
		for _, c := range oc.cardsOut {
			if c.Indicator == ind {
				out = append(out, c)
			}
		}
	}
	return out
}

// current returns the patient's current order of drug id, or nil.
func current(p *ekbom.Patient, id string) *ekbom.Medication {
	for i := range p.Medications {
		m := &p.Medications[i]
		if m.IsCurrent() && m.Resolved.Ingredient == id {
			return m
		}
	}
	return nil
}

// removeSuggestion proposes deleting the drafted order.
func removeSuggestion(d *draft) []Suggestion {
	if d.ref == "" {
		return nil
	}
	return []Suggestion{{
		Label:         "Remove the draft order for " + d.name(),
		IsRecommended: true,
		Actions:       []Action{{Type: ActionDelete, Description: "Remove the draft order " + d.ref + " (" + d.display() + ")", ResourceID: d.ref}},
	}}
}

func medText(m *ekbom.Medication) string {
	if m.Resolved.Display != "" {
		return m.Resolved.Display
	}
	if m.Resolved.DailyMg != nil {
		return m.Resolved.Ingredient + " " + num(*m.Resolved.DailyMg) + " mg/day"
	}
	return m.Resolved.Ingredient
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// dopaminergic flags a new or increased dopaminergic drug, and cabergoline.
func (oc *orderCheck) dopaminergic(d *draft) {
	b := oc.b
	cur := current(oc.base, d.drug.ID)
	why := []string{"drafted: " + d.display()}
	verb := "new"
	switch {
	case cur == nil:
		why = append(why, "not taking "+d.name()+" now")
	case cur.Resolved.DailyMg != nil && d.med.Resolved.DailyMg != nil:
		if *d.med.Resolved.DailyMg <= *cur.Resolved.DailyMg+1e-9 {
			if d.drug.ID != "cabergoline" {
				return // the same or a lower dose
			}
		}
		verb = "higher"
		why = append(why, "taking now: "+medText(cur))
	default:
		verb = "changed"
		why = append(why, "taking now: "+medText(cur)+" (the doses cannot be compared)")
	}
	var g *kb.GuidelineRec
	if d.drug.Avoid != nil {
		g, _ = b.GuidelineRec(d.drug.Avoid.Evidence)
	}
	evidence := "not graded"
	var sources []string
	if g != nil {
		evidence = badge(g.Strength, g.Certainty, g.Verified())
		sources = g.Sources
	}
	if d.drug.Avoid != nil {
		sources = append(sources, d.drug.Avoid.Sources...)
	}
	if rd := d.drug.RLSDose; rd != nil && rd.Verified && d.med.Resolved.DailyMg != nil && *d.med.Resolved.DailyMg > rd.MaxMg+1e-9 {
		why = append(why, fmt.Sprintf("the drafted dose is above the RLS maximum of %s %s", num(rd.MaxMg), rd.Unit))
	}
	augWhy, aug := oc.augmentation()
	cd := &detail{b: b}
	var summary, ind, topic string
	switch {
	case d.drug.ID == "cabergoline":
		ind, topic = Critical, "order.cabergoline"
		summary = "Cabergoline for RLS: the AASM recommends against it"
		if g != nil && g.Strength == "strong" {
			summary += " (strong recommendation)"
		}
		if g != nil {
			cd.para(g.Text)
		}
		if d.drug.Avoid != nil {
			cd.para(d.drug.Avoid.Reason)
		}
		why = append(why, augWhy...)
	case aug:
		ind, topic = Critical, "order.dopaminergic_augmentation"
		action := "start"
		if verb != "new" {
			action = "increase"
		}
		summary = fmt.Sprintf("Dopaminergic augmentation: do not %s %s", action, d.name())
		cd.para(fmt.Sprintf("This order would %s %s while the patient has, or may have, dopaminergic augmentation. "+
			"A higher dopaminergic dose brings short relief and makes augmentation worse; ekbom's plan adds an "+
			"alpha-2-delta ligand (or, failing that, a low-dose opioid) and then tapers the dopaminergic drug slowly.", action, d.name()))
		if g != nil {
			cd.para(g.Text)
		}
		why = append(why, augWhy...)
	default:
		ind, topic = Warning, "order.dopaminergic"
		what := "New " + d.name()
		if verb != "new" {
			what = "Higher " + d.name() + " dose"
		}
		summary = what + ": the AASM suggests against its standard use for RLS (augmentation risk)"
		if g != nil && g.Direction == "against" {
			summary = what + ": the AASM recommends against it for RLS"
		}
		if g != nil {
			cd.para(g.Text)
		}
		cd.para("Dopaminergic drugs carry a high long-term risk of augmentation; alpha-2-delta ligands and iron come first in ekbom's plan. " +
			"If a dopamine agonist is used, keep to the lowest dose and screen for augmentation at every visit.")
	}
	cd.list("Why", why)
	cd.raw("**Evidence:** " + md(evidence))
	cd.sources(sources)
	oc.cardsOut = append(oc.cardsOut, Card{
		Summary: summary, Detail: cd.String(), Indicator: ind,
		Source:      source(b, sources, topic, "dopaminergic drug order"),
		Suggestions: removeSuggestion(d),
	})
}

// augmentation reports whether the patient has (or may have) dopaminergic
// augmentation: a warning of the plan before or with the drafted orders, or
// augmentation on a dopaminergic drug in the past.
func (oc *orderCheck) augmentation() ([]string, bool) {
	var why []string
	found := false
	for _, pl := range []*ekbom.Plan{oc.baseline, oc.plan} {
		for _, w := range pl.Warnings {
			if w.Code == ekbom.WarnAugmentation && !found {
				found = true
				why = append(why, w.Text)
				why = append(why, w.Because...)
			}
		}
	}
	for _, f := range oc.baseline.Findings {
		if f.Code == "augmentation_history" {
			found = true
			why = append(why, f.Text)
		}
	}
	return why, found
}

// exacerbator flags a new drug that can worsen RLS, with the safer
// alternative from the knowledge base.
func (oc *orderCheck) exacerbator(d *draft) {
	x := d.drug.Exacerbator
	cd := &detail{b: oc.b}
	cd.para(x.Text)
	if alt := strings.TrimSpace(x.Alternative); alt != "" {
		cd.raw("**Safer alternative:** " + md(alt))
	}
	why := []string{"drafted: " + d.display(), "not taking " + d.name() + " now"}
	if oc.base.Has(ekbom.Depression) && (x.Mechanism == "serotonergic" || x.Mechanism == "tricyclic") {
		why = append(why, "condition depression: decide with the prescriber")
	}
	cd.list("Why", why)
	cd.raw("**Evidence:** " + md(x.Evidence) + " (knowledge-base rating of the evidence that it worsens RLS)")
	cd.sources(x.Sources)
	oc.cardsOut = append(oc.cardsOut, Card{
		Summary:     capitalize(d.name()) + " can worsen restless legs syndrome: consider a safer alternative",
		Detail:      cd.String(),
		Indicator:   Warning,
		Source:      source(oc.b, x.Sources, "order.exacerbator", "drug that worsens RLS"),
		Suggestions: removeSuggestion(d),
	})
}

// renal flags a gabapentinoid whose daily dose, with the drafted order,
// is above the renal limit (the engine's alpha2delta.reduce_renal).
func (oc *orderCheck) renal(d *draft) {
	for _, st := range oc.plan.Steps {
		for _, r := range st.Recommendations {
			if r.Rule != "alpha2delta.reduce_renal" || r.Target != d.drug.ID {
				continue
			}
			m := current(oc.combined, d.drug.ID)
			limit := "the renal limit"
			if r.Dose != nil && r.Dose.MaxDailyMg != nil {
				limit = "the renal limit of " + num(*r.Dose.MaxDailyMg) + " mg/day"
			}
			dose := d.name()
			if m != nil && m.Resolved.DailyMg != nil {
				dose += " " + num(*m.Resolved.DailyMg) + " mg/day"
			}
			cd := &detail{b: oc.b}
			cd.para(r.Text)
			if r.Dose != nil {
				cd.para("Dose: " + r.Dose.Text)
			}
			why := []string{"drafted: " + d.display()}
			for _, b := range r.Because {
				if !strings.HasPrefix(b, "taking "+d.drug.Name) { // the engine's view of the draft
					why = append(why, b)
				}
			}
			if cur := current(oc.base, d.drug.ID); cur != nil {
				why = append(why, "the drafted order replaces "+medText(cur)+" in this check")
			}
			cd.list("Why", why)
			cd.raw("**Evidence:** " + md(badge(r.Strength, r.Certainty, r.GradeVerified)))
			// The drug's own renal-band sources (its label) first.
			var sources []string
			for _, band := range d.drug.RenalBands {
				sources = append(sources, band.Sources...)
			}
			sources = append(sources, r.Sources...)
			cd.sources(sources)
			oc.covered[ekbom.WarnRenalDosing] = true
			oc.cardsOut = append(oc.cardsOut, Card{
				Summary:     capitalize(dose) + " is above " + limit,
				Detail:      cd.String(),
				Indicator:   Critical,
				Source:      source(oc.b, sources, "order.renal_limit", "gabapentinoid above the renal limit"),
				Suggestions: removeSuggestion(d),
			})
			return
		}
	}
}

var sedativeClasses = map[string]bool{"opioid": true, "alpha2delta_ligand": true, "benzodiazepine": true}

// respiratory flags an opioid together with an alpha-2-delta ligand, a
// benzodiazepine, untreated sleep apnea or COPD, when a drafted order is
// part of the combination.
func (oc *orderCheck) respiratory() {
	var involved []*draft
	for _, d := range oc.drafts {
		if d.med != nil && d.selected && sedativeClasses[d.drug.Class] {
			involved = append(involved, d)
		}
	}
	if len(involved) == 0 {
		return
	}
	p := oc.combined
	drafted := map[string]bool{}
	for _, d := range oc.drafts {
		if d.med != nil {
			drafted[d.drug.ID] = true
		}
	}
	names := map[string][]string{}
	for i := range p.Medications {
		m := &p.Medications[i]
		if !m.IsCurrent() {
			continue
		}
		dr, ok := oc.b.Drug(m.Resolved.Ingredient)
		if !ok || !sedativeClasses[dr.Class] {
			continue
		}
		what := "taking " + medText(m)
		if drafted[dr.ID] {
			what = "drafted: " + medText(m)
		}
		names[dr.Class] = append(names[dr.Class], what)
	}
	if len(names["opioid"]) == 0 {
		return
	}
	var with, short []string
	why := append([]string{}, names["opioid"]...)
	if n := names["alpha2delta_ligand"]; len(n) > 0 {
		with, short = append(with, "an alpha-2-delta ligand"), append(short, "a gabapentinoid")
		why = append(why, n...)
	}
	if n := names["benzodiazepine"]; len(n) > 0 {
		with, short = append(with, "a benzodiazepine"), append(short, "a benzodiazepine")
		why = append(why, n...)
	}
	if p.Has(ekbom.SleepApnea) || (p.Screening.OSAScreen == "positive" && !p.Has(ekbom.SleepApneaTreated)) {
		with, short = append(with, "untreated sleep apnea"), append(short, "untreated sleep apnea")
		why = append(why, "untreated sleep apnea")
	}
	if p.Has(ekbom.COPD) {
		with, short = append(with, "COPD"), append(short, "COPD")
		why = append(why, "condition copd")
	}
	if len(with) == 0 {
		return
	}
	rule, ok := oc.b.Rule("warn.respiratory_depression")
	if !ok {
		return
	}
	text, err := kb.Render(rule.Text, map[string]string{"with": joinAnd(with)})
	if err != nil {
		return
	}
	cd := &detail{b: oc.b}
	cd.para(text)
	cd.list("Why", why)
	cd.raw("**Evidence:** safety warning (not graded)")
	cd.sources(rule.Sources)
	var sugg []Suggestion
	for _, d := range involved {
		sugg = append(sugg, removeSuggestion(d)...)
	}
	if !taking(p, "naloxone") {
		if s, ok := naloxoneSuggestion(oc.b, oc.req.Context.PatientID); ok {
			s.IsRecommended = false
			sugg = append(sugg, s)
		}
	}
	oc.covered[ekbom.WarnRespiratoryDepression] = true
	oc.cardsOut = append(oc.cardsOut, Card{
		Summary:     "Opioid with " + joinAnd(short) + ": risk of respiratory depression",
		Detail:      cd.String(),
		Indicator:   Critical,
		Source:      source(oc.b, rule.Sources, ekbom.WarnRespiratoryDepression, "respiratory depression"),
		Suggestions: sugg,
	})
}

// opioidUseDisorder flags a drafted opioid for a patient with an opioid or
// substance use disorder.
func (oc *orderCheck) opioidUseDisorder() {
	p := oc.base
	var conds []string
	if p.Has(ekbom.OpioidUseDisorder) {
		conds = append(conds, "opioid use disorder")
	}
	if p.Has(ekbom.SubstanceUseDisorder) {
		conds = append(conds, "substance use disorder")
	}
	if len(conds) == 0 {
		return
	}
	var involved []*draft
	for _, d := range oc.drafts {
		if d.med != nil && d.selected && d.drug.Class == "opioid" {
			involved = append(involved, d)
		}
	}
	if len(involved) == 0 {
		return
	}
	rule, ok := oc.b.Rule("warn.opioid_use_disorder")
	if !ok {
		return
	}
	cond := capitalize(joinAnd(conds))
	text, err := kb.Render(rule.Text, map[string]string{"condition": cond})
	if err != nil {
		return
	}
	cd := &detail{b: oc.b}
	cd.para(text)
	why := []string{}
	var sugg []Suggestion
	for _, d := range involved {
		why = append(why, "drafted: "+d.display())
		sugg = append(sugg, removeSuggestion(d)...)
	}
	why = append(why, "condition "+joinAnd(conds))
	cd.list("Why", why)
	cd.raw("**Evidence:** safety warning (not graded)")
	cd.sources(rule.Sources)
	oc.covered[ekbom.WarnOpioidUseDisorder] = true
	oc.cardsOut = append(oc.cardsOut, Card{
		Summary:     "Opioid order with " + joinAnd(conds) + ": only with addiction-medicine involvement",
		Detail:      cd.String(),
		Indicator:   Critical,
		Source:      source(oc.b, rule.Sources, ekbom.WarnOpioidUseDisorder, "opioid use disorder"),
		Suggestions: sugg,
	})
}

// engineWarnings shows the engine's warnings that the drafted orders bring
// (present with them, absent without) and no card covers yet.
func (oc *orderCheck) engineWarnings() {
	checked := false
	for _, d := range oc.drafts {
		if d.med != nil && d.selected {
			checked = true
		}
	}
	if !checked {
		return
	}
	before := map[string]bool{}
	for _, w := range oc.baseline.Warnings {
		before[w.Code+"\x00"+w.Text] = true
	}
	for _, w := range oc.plan.Warnings {
		ind := indicatorOf(oc.b, w)
		if ind == Info || before[w.Code+"\x00"+w.Text] || oc.covered[w.Code] {
			continue
		}
		cd := &detail{b: oc.b}
		cd.para(w.Text)
		cd.list("Why", w.Because)
		cd.raw("**Evidence:** safety warning (not graded)")
		cd.sources(w.Sources)
		oc.cardsOut = append(oc.cardsOut, Card{
			Summary: headline(w.Text), Detail: cd.String(), Indicator: ind,
			Source: source(oc.b, w.Sources, w.Code, strings.ReplaceAll(w.Code, "_", " ")),
		})
	}
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
