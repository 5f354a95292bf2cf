package cdshooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"ekbom"
	"ekbom/engine"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/kb"
)

// Options configures PatientView and OrderCheck.
type Options struct {
	// Now is the time of the call; its date is the assessment date.
	// Required: the package does not read the clock.
	Now time.Time
	// PlanURL, when set, is the absolute URL of the page that shows the full
	// plan of this call; patient-view cards link to it.
	PlanURL string
}

// Limits of the patient-view response.
const (
	maxWarningCards = 3
	maxStepCards    = 2
)

// indicatorOf maps a warning's severity to a card indicator: high is
// critical for the warnings the knowledge base marks critical
// (augmentation met, iron overload, respiratory depression, opioid use
// disorder: rules/9_warnings.yaml) and a warning otherwise; moderate is a
// warning.
func indicatorOf(b *kb.Base, w ekbom.Warning) string {
	switch w.Severity {
	case "high":
		if b.CriticalWarning(w.Code) {
			return Critical
		}
		return Warning
	case "moderate":
		return Warning
	}
	return Info
}

// stepLabels are the short names of the plan steps in card summaries.
var stepLabels = map[string]string{
	ekbom.StepIron:               "Iron",
	ekbom.StepExacerbatingFactor: "Exacerbating factors",
	ekbom.StepAugmentation:       "Augmentation",
	ekbom.StepAlpha2Delta:        "Alpha-2-delta ligand",
	ekbom.StepSecondLine:         "Second line",
	ekbom.StepOpioids:            "Opioids",
	ekbom.StepNonDrug:            "Non-drug treatment",
	ekbom.StepSpecialPopulations: "Special populations",
}

// PatientView answers the patient-view hook: the patient's plan as at most
// six cards (see the package documentation). Bad FHIR in the prefetch is an
// *ekbom.ValidationError with paths into the request; a patient under 18
// gets no cards.
func PatientView(req *Request, eng *engine.Engine, opt Options) (*Result, error) {
	if opt.Now.IsZero() {
		return nil, errors.New("cdshooks: Options.Now is required")
	}
	b := eng.KB()
	p, res, err := readPatient(req.Prefetch, req.Context, b, ekbom.DateFromTime(opt.Now))
	if err != nil {
		return nil, err
	}
	out := &Result{PatientRef: "Patient/" + req.Context.PatientID, Response: Response{Cards: []Card{}}}
	if res != nil {
		out.Notes = res.Notes
	}
	if out.Silent = rlsGate(b, req.Prefetch, res, nil); out.Silent != "" {
		return out, nil
	}
	if p == nil {
		return out, nil // out of scope
	}
	plan, err := eng.Evaluate(p)
	if errors.Is(err, ekbom.ErrOutOfScope) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out.Plan = plan
	out.Response.Cards = finishCards(planCards(b, p, plan, req.Context.PatientID, opt.PlanURL), PatientViewID, req.HookInstance)
	return out, nil
}

// readPatient reads and normalises the prefetch. A nil patient with a nil
// error means the patient is out of scope (under 18).
func readPatient(prefetch map[string]json.RawMessage, c Context, b *kb.Base, asOf ekbom.Date) (*ekbom.Patient, *fhir.Result, error) {
	// Only ekbom's own prefetch keys are read: an EHR may send others
	// (a "user" id string, say), which are not FHIR resources.
	known := make(map[string]json.RawMessage, len(prefetch))
	for k, v := range prefetch {
		if prefetchKeys[k] {
			known[k] = v
		}
	}
	res, err := fhir.ReadPrefetch(known, b, fhir.Options{AsOf: asOf})
	if err != nil {
		return nil, nil, err
	}
	if id := res.Patient.ID; id != "" && id != c.PatientID {
		verr := &ekbom.ValidationError{}
		verr.Add(res.Origin["age"]+".id", "is %q but context.patientId is %q: the prefetch is about another patient", truncate(id, 64), c.PatientID)
		return nil, nil, verr
	}
	if err := intake.Normalize(res.Patient, b, intake.Options{}); err != nil {
		if errors.Is(err, ekbom.ErrOutOfScope) {
			return nil, res, nil
		}
		return nil, nil, res.Locate(err)
	}
	return res.Patient, res, nil
}

// planCards turns a plan into cards: warnings, the next steps and a summary.
func planCards(b *kb.Base, p *ekbom.Patient, plan *ekbom.Plan, patientID, planURL string) []Card {
	var links []Link
	if planURL != "" {
		links = []Link{{Label: "Open the full ekbom plan", URL: planURL, Type: LinkAbsolute}}
	}
	var cards []Card
	// Every warning reaches the EHR: the first few non-info ones as cards of
	// their own, all others listed on the summary card.
	var otherWarnings []string
	for _, w := range plan.Warnings {
		ind := indicatorOf(b, w)
		if ind == Info || len(cards) == maxWarningCards {
			otherWarnings = append(otherWarnings, strings.ToUpper(w.Severity)+": "+w.Text)
			continue
		}
		d := &detail{b: b}
		d.para(w.Text)
		d.list("Why", w.Because)
		d.raw("**Evidence:** safety warning (not graded)")
		d.sources(w.Sources)
		c := Card{
			Summary: headline(w.Text), Detail: d.String(), Indicator: ind,
			Source: source(b, w.Sources, w.Code, strings.ReplaceAll(w.Code, "_", " ")),
			Links:  links,
		}
		if w.Code == ekbom.WarnRespiratoryDepression && !taking(p, "naloxone") {
			if s, ok := naloxoneSuggestion(b, patientID); ok {
				c.Suggestions = []Suggestion{s}
			}
		}
		cards = append(cards, c)
	}
	steps := 0
	var top []string
	var topSources []string
	for _, st := range plan.Steps {
		var recs []ekbom.Recommendation
		for _, r := range st.Recommendations {
			if r.Priority == 1 {
				recs = append(recs, r)
			}
		}
		if len(recs) == 0 {
			continue
		}
		label := stepLabels[st.ID]
		for i := range recs {
			// A card has no schedule table: it is on the plan page.
			recs[i].Text = strings.ReplaceAll(recs[i].Text, " (schedule below)", "")
		}
		for _, r := range recs {
			top = append(top, fmt.Sprintf("%s: %s (%s)", label, headline(r.Text), badge(r.Strength, r.Certainty, r.GradeVerified)))
			topSources = append(topSources, r.Sources...)
		}
		if steps == maxStepCards {
			continue
		}
		steps++
		d := &detail{b: b}
		var sources []string
		for _, r := range recs {
			d.raw(fmt.Sprintf("**%s** · evidence: %s", md(capitalize(headline(r.Text))), badge(r.Strength, r.Certainty, r.GradeVerified)))
			if rest := strings.TrimSpace(strings.TrimPrefix(oneLine(r.Text), headline(r.Text))); rest != "" {
				d.para(rest)
			}
			if r.Dose != nil && r.Dose.Text != "" {
				dose := "Dose: " + r.Dose.Text
				if len(r.Schedule) > 0 {
					dose += " (the dated schedule is in the full plan)"
				}
				d.para(dose)
			}
			d.list("Why", r.Because)
			sources = append(sources, r.Sources...)
		}
		d.sources(sources)
		cards = append(cards, Card{
			Summary: label + ": " + headline(recs[0].Text), Detail: d.String(), Indicator: Info,
			Source: source(b, recs[0].Sources, st.ID, st.Title), Links: links,
		})
	}

	// The summary card.
	d := &detail{b: b}
	d.para(fmt.Sprintf("Status: %s. Pathway: %s. Knowledge base %s, engine %s, as of %s.",
		statusText(plan.Status), plan.Pathway, plan.KnowledgeVersion, plan.EngineVersion, plan.AsOf))
	d.list("Why this status", plan.StatusReasons)
	d.list("Other warnings", otherWarnings)
	d.list("Priority actions", top)
	// Drugs the knowledge base does not know are listed in the plan; on a
	// card, a count is enough (an EHR medication list holds many).
	var missing []string
	unknownMeds := 0
	for _, m := range plan.Missing {
		if strings.HasPrefix(m, "medications[") && strings.Contains(m, "not in the knowledge base") {
			unknownMeds++
			continue
		}
		missing = append(missing, m)
	}
	d.list("Missing data", missing)
	switch unknownMeds {
	case 0:
	case 1:
		d.para("1 medication is not in ekbom's knowledge base and was not assessed (see the full plan).")
	default:
		d.para(fmt.Sprintf("%d medications are not in ekbom's knowledge base and were not assessed (see the full plan).", unknownMeds))
	}
	d.sources(append([]string{"aasm2025"}, topSources...))
	summary := "ekbom RLS plan: " + statusText(plan.Status)
	if irls := plan.Severity.IRLS; irls != nil {
		summary += fmt.Sprintf(" · IRLS %d (%s)", *irls, strings.ReplaceAll(plan.Severity.Band, "_", " "))
	}
	switch n := len(top); n {
	case 0:
	case 1:
		summary += " · 1 priority action"
	default:
		summary += fmt.Sprintf(" · %d priority actions", n)
	}
	cards = append(cards, Card{
		Summary: summary, Detail: d.String(), Indicator: Info,
		Source: source(b, []string{"aasm2025"}, "plan", "RLS plan"), Links: links,
	})
	return cards
}

func statusText(s ekbom.Status) string {
	switch s {
	case ekbom.Refractory:
		return "refractory"
	case ekbom.NotYetRefractory:
		return "not yet refractory"
	}
	return "refractory status undetermined"
}

// taking reports whether the patient currently takes the drug id.
func taking(p *ekbom.Patient, id string) bool {
	for _, m := range p.Medications {
		if m.IsCurrent() && m.Resolved.Ingredient == id {
			return true
		}
	}
	return false
}

// naloxoneSuggestion proposes a naloxone prescription (a draft
// MedicationRequest the clinician completes), when the knowledge base holds
// a verified RxNorm code for naloxone.
func naloxoneSuggestion(b *kb.Base, patientID string) (Suggestion, bool) {
	d, ok := b.Drug("naloxone")
	if !ok || d.RxNorm == nil || !d.RxNorm.Verified {
		return Suggestion{}, false
	}
	res := map[string]any{
		"resourceType": "MedicationRequest",
		"status":       "draft",
		"intent":       "proposal",
		"subject":      map[string]string{"reference": "Patient/" + patientID},
		"medicationCodeableConcept": map[string]any{
			"coding": []map[string]string{{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": d.RxNorm.Code, "display": d.RxNorm.Display}},
			"text":   d.Name,
		},
		"note": []map[string]string{{"text": "Suggested by ekbom: offer naloxone for opioid overdose and teach its use; choose the product and dose."}},
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return Suggestion{}, false
	}
	return Suggestion{
		Label:         "Offer naloxone",
		IsRecommended: true,
		Actions: []Action{{
			Type: ActionCreate, Description: "Draft a naloxone prescription (choose the product and dose)", Resource: raw,
		}},
	}, true
}

// conditionsIncomplete reports whether the conditions prefetch may not hold
// the whole problem list, so that silence cannot be justified: not a Bundle
// (an EHR sends an OperationOutcome when a prefetch fails), a Bundle with a
// next page or a total above its entries, or one carrying an
// OperationOutcome.
func conditionsIncomplete(raw json.RawMessage) bool {
	var b struct {
		ResourceType string `json:"resourceType"`
		Total        *int   `json:"total"`
		Link         []struct {
			Relation string `json:"relation"`
		} `json:"link"`
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &b) != nil || b.ResourceType != "Bundle" {
		return true
	}
	if b.Total != nil && *b.Total > len(b.Entry) {
		return true
	}
	for _, l := range b.Link {
		if l.Relation == "next" {
			return true
		}
	}
	for _, e := range b.Entry {
		if e.Resource.ResourceType == "OperationOutcome" {
			return true
		}
	}
	return false
}

// rlsGate returns why the services stay silent for this patient, or "" when
// they answer. They answer when the record shows restless legs syndrome
// (fhir.Result.RLS: an active Condition coding it, an answered ekbom
// questionnaire), when a drafted order gives it as its reason
// (draftReason), and when the conditions prefetch is empty or may be
// incomplete (conditionsIncomplete): a patient whose problem list could not
// be read whole is answered rather than passed over. So a
// chart without RLS gets no cards, and a dopamine agonist ordered for
// Parkinson's disease is not judged against RLS doses.
func rlsGate(b *kb.Base, prefetch map[string]json.RawMessage, res *fhir.Result, drafts []*draft) string {
	if res == nil || len(res.RLS) > 0 || isNull(prefetch[KeyConditions]) || conditionsIncomplete(prefetch[KeyConditions]) {
		return ""
	}
	for _, d := range drafts {
		if d.rlsReason {
			return ""
		}
	}
	var codes []string
	for _, dc := range b.Codes.Diagnosis {
		for _, c := range dc.SNOMED {
			codes = append(codes, "SNOMED CT "+c)
		}
		for _, c := range dc.ICD10CM {
			codes = append(codes, "ICD-10-CM "+c)
		}
	}
	return "no restless legs syndrome on the record (no active Condition coded " + strings.Join(codes, " or ") +
		", no answered ekbom questionnaire" + map[bool]string{true: ", no drafted order for it", false: ""}[drafts != nil] + ")"
}
