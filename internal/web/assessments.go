package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"ekbom"
)

// planPage is everything the plan page shows. It is built from the stored
// plan JSON only, never from the current knowledge base, so a past plan
// looks exactly as it did when it was made.
type planPage struct {
	Assessment *ekbom.Assessment
	Patient    *ekbom.PatientRecord
	Plan       *ekbom.Plan
	Conflicts  map[string]ekbom.ConflictNote
	SourceIDs  []string
}

// loadPlan reads an assessment, its patient and its stored plan, writing the
// audit entry of the view.
func (s *Server) loadPlan(r *http.Request, detail string) (*planPage, error) {
	ctx := r.Context()
	a, err := s.store.GetAssessment(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	rec, err := s.store.GetPatient(ctx, a.PatientID)
	if err != nil {
		return nil, err
	}
	var plan ekbom.Plan
	if err := json.Unmarshal(a.Plan, &plan); err != nil {
		return nil, fmt.Errorf("assessment %s: stored plan: %w", a.ID, err)
	}
	if err := s.audit(r, "view", "assessment", a.ID, detail); err != nil {
		return nil, err
	}
	pp := &planPage{Assessment: a, Patient: rec, Plan: &plan, Conflicts: map[string]ekbom.ConflictNote{}}
	for _, c := range plan.Conflicts {
		pp.Conflicts[c.ID] = c
	}
	for id := range plan.Sources {
		pp.SourceIDs = append(pp.SourceIDs, id)
	}
	sort.Strings(pp.SourceIDs)
	return pp, nil
}

func (s *Server) assessmentView(w http.ResponseWriter, r *http.Request) {
	pp, err := s.loadPlan(r, "")
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "plan", "Plan — "+pp.Patient.Name, "patients", pp)
}

// handoutItem is one thing for the patient to do, in the knowledge base's
// patient wording, with its calendar when there is one.
type handoutItem struct {
	Text     string
	Schedule []ekbom.ScheduleItem
}

type handoutData struct {
	AssessmentID string
	Patient      *ekbom.PatientRecord
	AsOf         string
	Todo         []handoutItem
	Avoid        []string // not currently taken
	Taking       bool     // some avoid entries are taken now (left out)
	Monitoring   []ekbom.Monitor
}

// assessmentHandout is the plain-language patient handout. It shows only the
// patient wording the knowledge base gives each recommendation (stored in the
// plan as patient_text) and adds no medical content of its own; clinician
// texts are never copied into it.
func (s *Server) assessmentHandout(w http.ResponseWriter, r *http.Request) {
	pp, err := s.loadPlan(r, "handout")
	if err != nil {
		if errors.Is(err, ekbom.ErrNotFound) {
			s.notFound(w, r)
			return
		}
		s.storeError(w, r, err)
		return
	}
	d := handoutData{AssessmentID: pp.Assessment.ID, Patient: pp.Patient, AsOf: pp.Plan.AsOf.String(), Monitoring: pp.Plan.Monitoring}
	seen := map[string]bool{}
	for _, st := range pp.Plan.Steps {
		for _, rec := range st.Recommendations {
			if rec.PatientText != "" && !seen[rec.PatientText] {
				seen[rec.PatientText] = true
				d.Todo = append(d.Todo, handoutItem{Text: rec.PatientText, Schedule: rec.Schedule})
			}
		}
	}
	// Avoid entries are drugs not to start. One the patient takes now is
	// handled by the plan's steps (often a gradual taper), so the handout
	// does not list it: "avoid" could be read as "stop at once".
	for _, a := range pp.Plan.Avoid {
		if a.CurrentlyTaking {
			d.Taking = true
			continue
		}
		d.Avoid = append(d.Avoid, humanID(a.Target))
	}
	s.render(w, r, http.StatusOK, "handout", "Your RLS plan", "", d)
}

func humanID(id string) string {
	b := []byte(id)
	for i, c := range b {
		if c == '_' {
			b[i] = ' '
		}
	}
	return string(b)
}
