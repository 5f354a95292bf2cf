package bulk

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ekbom"
	"ekbom/fhir"
)

// CareList is a list of patients a care team can work through, such as
// those on a dopamine agonist above the RLS maximum.
type CareList struct {
	ID          string
	Title       string
	Description string
	// File is the CSV file with every patient of the list
	// (patient,patient_id,as_of,detail).
	File  string
	Count int64
	// First holds the first patients in plan order, up to
	// Options.ListLimit.
	First []CareEntry
}

// CareEntry is one patient of a care list.
type CareEntry struct {
	Patient string // "Patient/x"
	Detail  string
}

// careDef defines a care list: match returns whether the patient belongs
// on it, and why. res is what the FHIR reader made of the record.
type careDef struct {
	id, title, description string
	match                  func(r *run, p *ekbom.Patient, plan *ekbom.Plan, res *fhir.Result) (bool, string)
}

var careDefs = []careDef{
	{
		id:          "dopamine_agonist_above_max",
		title:       "Dopamine agonist above the RLS maximum",
		description: "A dopaminergic drug above the RLS maximum dose (finding dopaminergic_dose_above_rls_max): a strong augmentation risk. Do not increase; consider a supervised taper.",
		match: func(_ *run, _ *ekbom.Patient, plan *ekbom.Plan, _ *fhir.Result) (bool, string) {
			return findingText(plan, "dopaminergic_dose_above_rls_max")
		},
	},
	{
		id:          "augmentation",
		title:       "Augmentation met or suspected",
		description: "Augmentation on a dopaminergic drug, met by the MPI criteria or suspected (findings augmentation_met, augmentation_suspected).",
		match: func(_ *run, _ *ekbom.Patient, plan *ekbom.Plan, _ *fhir.Result) (bool, string) {
			if ok, t := findingText(plan, "augmentation_met"); ok {
				return true, "met: " + t
			}
			if ok, t := findingText(plan, "augmentation_suspected"); ok {
				return true, "suspected: " + t
			}
			return false, ""
		},
	},
	{
		id:          "no_recent_ferritin",
		title:       "No ferritin in the last 12 months",
		description: "No ferritin result dated within the iron-test age limit (threshold iron.test_max_age_days) before the plan date: iron studies are due.",
		match: func(r *run, p *ekbom.Patient, _ *ekbom.Plan, _ *fhir.Result) (bool, string) {
			var last ekbom.Date
			for _, l := range p.Labs {
				if l.Test == ekbom.Ferritin && !l.Derived && (last.IsZero() || l.Date.After(last)) {
					last = l.Date
				}
			}
			switch {
			case last.IsZero():
				return true, "no ferritin on record"
			case p.AsOf.DaysSince(last) > r.ferritinMaxDays:
				return true, "last ferritin " + last.String()
			}
			return false, ""
		},
	},
	{
		id:          "exacerbating_drugs",
		title:       "Taking a drug that worsens RLS",
		description: "A current medication the knowledge base lists as worsening RLS (antihistamines, serotonergic antidepressants, dopamine antagonists, …).",
		match: func(r *run, p *ekbom.Patient, _ *ekbom.Plan, _ *fhir.Result) (bool, string) {
			var names []string
			for i := range p.Medications {
				m := &p.Medications[i]
				if !m.IsCurrent() || m.Resolved.Ingredient == "" {
					continue
				}
				if d, ok := r.b.Drug(m.Resolved.Ingredient); ok && d.Exacerbator != nil && !contains(names, d.Name) {
					names = append(names, d.Name)
				}
			}
			return len(names) > 0, strings.Join(names, "; ")
		},
	},
	{
		id:          "opioid_gabapentinoid_untreated_osa",
		title:       "Opioid with a gabapentinoid and untreated sleep apnea",
		description: "The respiratory-depression warning for an opioid together with an alpha-2-delta ligand and untreated sleep apnea (current or recommended drugs).",
		match: func(_ *run, _ *ekbom.Patient, plan *ekbom.Plan, _ *fhir.Result) (bool, string) {
			for _, w := range plan.Warnings {
				if w.Code == ekbom.WarnRespiratoryDepression && contains(w.Because, "untreated sleep apnea") &&
					strings.Contains(w.Text, "alpha-2-delta") {
					return true, strings.Join(w.Because, "; ")
				}
			}
			return false, ""
		},
	},
	{
		id:    "rls_not_coded",
		title: "RLS not on the problem list",
		description: "Planned, but no active Condition codes restless legs syndrome (codes.yaml diagnosis: SNOMED CT 32914008, ICD-10-CM G25.81). " +
			"Add it to the problem list, or check that the patient belongs in the cohort. Without it and without an answered ekbom questionnaire, " +
			"ekbom's CDS Hooks services give the chart no cards.",
		match: func(_ *run, _ *ekbom.Patient, _ *ekbom.Plan, res *fhir.Result) (bool, string) {
			switch {
			case res.RLSCoded:
				return false, ""
			case len(res.RLS) > 0:
				return true, "no SNOMED CT or ICD-10-CM code for it (known from a local code, free text or the ekbom questionnaire)"
			}
			return true, "no RLS Condition and no ekbom questionnaire: CDS Hooks gives no cards"
		},
	},
}

func findingText(plan *ekbom.Plan, code string) (bool, string) {
	for _, f := range plan.Findings {
		if f.Code == code {
			return true, f.Text
		}
	}
	return false, ""
}

// careSink writes one care list's CSV and keeps its first entries.
type careSink struct {
	list *CareList
	f    *os.File
	w    *bufio.Writer
	csv  *csv.Writer
	max  int
}

func (c *careSink) add(patient, asOf, detail string) error {
	c.list.Count++
	if len(c.list.First) < c.max {
		c.list.First = append(c.list.First, CareEntry{Patient: patient, Detail: detail})
	}
	return c.csv.Write([]string{patient, strings.TrimPrefix(patient, "Patient/"), asOf, detail})
}

func (r *run) openCareLists() error {
	if t, ok := r.b.Threshold("iron.test_max_age_days"); ok {
		r.ferritinMaxDays = int(t.Value)
	} else {
		r.ferritinMaxDays = 365
	}
	for _, d := range careDefs {
		l := &CareList{ID: d.id, Title: d.title, Description: d.description, File: "care-" + d.id + ".csv"}
		f, err := os.Create(filepath.Join(r.out, l.File))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 64<<10)
		c := &careSink{list: l, f: f, w: w, csv: csv.NewWriter(w), max: r.opt.ListLimit}
		c.csv.Write([]string{"patient", "patient_id", "as_of", "detail"})
		r.care = append(r.care, c)
		r.sum.CareLists = append(r.sum.CareLists, l)
	}
	return nil
}

// closeCareLists flushes and closes the care-list files; it may be called
// again.
func (r *run) closeCareLists() error {
	var first error
	for _, c := range r.care {
		if c.f == nil {
			continue
		}
		c.csv.Flush()
		err := c.csv.Error()
		if err == nil {
			err = c.w.Flush()
		}
		if cerr := c.f.Close(); err == nil {
			err = cerr
		}
		c.f = nil
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", c.list.File, err)
		}
	}
	return first
}

// facts is what the summary counts about one planned patient.
type facts struct {
	asOf, status, pathway, band string
	warnings, findings          []string // codes, each once
	rules, recs                 []string // rule ids and "action target", each once
	care                        []careHit
}

type careHit struct {
	list   int
	detail string
}

// factsOf works out the counts and care lists of one plan (on the worker).
func (r *run) factsOf(p *ekbom.Patient, plan *ekbom.Plan, res *fhir.Result) facts {
	f := facts{asOf: plan.AsOf.String(), status: string(plan.Status), pathway: plan.Pathway, band: plan.Severity.Band}
	for _, w := range plan.Warnings {
		f.warnings = addOnce(f.warnings, w.Code)
	}
	for _, x := range plan.Findings {
		f.findings = addOnce(f.findings, x.Code)
	}
	for _, s := range plan.Steps {
		for _, rec := range s.Recommendations {
			f.rules = addOnce(f.rules, rec.Rule)
			f.recs = addOnce(f.recs, string(rec.Action)+" "+rec.Target)
		}
	}
	for i, d := range careDefs {
		if ok, detail := d.match(r, p, plan, res); ok {
			f.care = append(f.care, careHit{list: i, detail: detail})
		}
	}
	return f
}

func addOnce(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

// sortedCounts returns a count map's keys by count, most first, then by
// name.
func sortedCounts(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
