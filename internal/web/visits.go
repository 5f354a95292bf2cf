package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"ekbom"
	"ekbom/intake"
)

// newVisitForm returns the visit form for patient rec, prefilled from prev
// (the latest visit) except for the date and this visit's symptoms.
func (s *Server) newVisitForm(rec *ekbom.PatientRecord, prev *ekbom.Visit) *visitForm {
	f := &visitForm{Aug: map[string]bool{}, Errors: &fieldErrors{}}
	if prev != nil {
		f = formFromPatient(prev)
		f.VisitID, f.Version = "", 0
		f.IRLS, f.IRLSTotal = [10]string{}, ""
		f.Aug, f.AugScreened, f.OnsetAdvance = map[string]bool{}, false, ""
		f.Daytime, f.Hyperarousal = "", ""
	}
	f.PatientID, f.Date = rec.ID, s.today().String()
	return f
}

// prepare sets what the form needs to draw for patient rec.
func (s *Server) prepare(f *visitForm, rec *ekbom.PatientRecord) {
	f.Patient, f.PatientID = rec, rec.ID
	f.AgeFromBirth = rec.BirthDate != nil
	f.Opts = s.visitOptions()
	if f.Errors == nil {
		f.Errors = &fieldErrors{}
	}
	if f.Computed != nil {
		f.Computed.Band = s.bandOf(f.Computed.Total)
	}
}

type visitFormPage struct {
	*visitForm
	Prefilled string // date of the visit the form was prefilled from
}

func (s *Server) visitNew(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rec, err := s.store.GetPatient(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	visits, err := s.store.ListVisits(ctx, rec.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	var prev *ekbom.Visit
	if len(visits) > 0 {
		prev = &visits[len(visits)-1]
	}
	if err := s.audit(r, "view", "patient", rec.ID, "new visit form"); err != nil {
		s.serverError(w, r, err)
		return
	}
	f := s.newVisitForm(rec, prev)
	s.prepare(f, rec)
	page := visitFormPage{visitForm: f}
	if prev != nil {
		page.Prefilled = prev.Date.String()
	}
	s.render(w, r, http.StatusOK, "visit_form", "New visit — "+rec.Name, "patients", page)
}

// submitVisit reads the posted visit form. It returns the patient to save,
// or nil when the form was re-rendered (an "add row" press or problems).
func (s *Server) submitVisit(w http.ResponseWriter, r *http.Request, rec *ekbom.PatientRecord, visitID, title string) (*ekbom.Patient, *visitForm) {
	f := readVisitForm(r.PostForm)
	f.VisitID = visitID
	switch r.PostForm.Get("add") {
	case "labs":
		f.Labs = append(f.Labs, labRow{})
	case "medications":
		f.Meds = append(f.Meds, medRow{Status: "current"})
	case "iron_infusions":
		f.Infusions = append(f.Infusions, infusionRow{})
	}
	if r.PostForm.Get("add") != "" {
		f.Errors = &fieldErrors{}
		s.prepare(f, rec)
		s.render(w, r, http.StatusOK, "visit_form", title, "patients", visitFormPage{visitForm: f})
		return nil, nil
	}
	p := f.patient(rec)
	if !p.AsOf.IsZero() && p.AsOf.After(s.today()) {
		f.Errors.add("date", "Visit date", "is in the future")
	}
	valid := f.validate(p, s.kb)
	s.prepare(f, rec)
	if !valid {
		s.render(w, r, http.StatusUnprocessableEntity, "visit_form", title, "patients", visitFormPage{visitForm: f})
		return nil, nil
	}
	return p, f
}

func (s *Server) visitCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rec, err := s.store.GetPatient(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	p, _ := s.submitVisit(w, r, rec, "", "New visit — "+rec.Name)
	if p == nil {
		return
	}
	v := &ekbom.Visit{PatientID: rec.ID, Date: p.AsOf, Data: *p}
	if err := s.store.CreateVisit(ctx, v, principalFrom(ctx).actor()); err != nil {
		s.storeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/visits/"+v.ID+"?saved=1", http.StatusSeeOther)
}

func (s *Server) visitEdit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.store.GetVisit(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	rec, err := s.store.GetPatient(ctx, v.PatientID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "visit", v.ID, "edit form"); err != nil {
		s.serverError(w, r, err)
		return
	}
	f := formFromPatient(v)
	if t, ok := irlsTotal(v.Data.Symptoms); ok {
		f.Computed = &irlsScore{Total: t}
	}
	s.prepare(f, rec)
	s.render(w, r, http.StatusOK, "visit_form", "Edit visit — "+rec.Name, "patients", visitFormPage{visitForm: f})
}

func (s *Server) visitUpdate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.store.GetVisit(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	rec, err := s.store.GetPatient(ctx, v.PatientID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	title := "Edit visit — " + rec.Name
	p, f := s.submitVisit(w, r, rec, v.ID, title)
	if p == nil {
		return
	}
	v.Date, v.Data, v.Version = p.AsOf, *p, f.Version
	err = s.store.UpdateVisit(ctx, v, principalFrom(ctx).actor())
	if errors.Is(err, ekbom.ErrConflict) {
		f.Errors.add("form", "Form", "this visit was changed by someone else meanwhile; open it again to see the current version (your changes are below, not saved)")
		s.render(w, r, http.StatusConflict, "visit_form", title, "patients", visitFormPage{visitForm: f})
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/visits/"+v.ID+"?saved=1", http.StatusSeeOther)
}

func (s *Server) visitDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.store.GetVisit(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if err := s.store.DeleteVisit(ctx, v.ID, principalFrom(ctx).actor()); err != nil {
		s.storeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/patients/"+v.PatientID, http.StatusSeeOther)
}

type visitViewData struct {
	Visit       *ekbom.Visit
	Patient     *ekbom.PatientRecord
	IRLS        *irlsScore
	Meds        []string
	Assessments []assessmentRow
	Saved       bool
	Problems    []ekbom.Problem // when the visit no longer validates
}

func (s *Server) visitView(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.store.GetVisit(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	rec, err := s.store.GetPatient(ctx, v.PatientID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	all, err := s.store.ListAssessments(ctx, v.PatientID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "visit", v.ID, ""); err != nil {
		s.serverError(w, r, err)
		return
	}
	d := visitViewData{Visit: v, Patient: rec, Saved: r.URL.Query().Get("saved") != ""}
	if t, ok := irlsTotal(v.Data.Symptoms); ok {
		d.IRLS = &irlsScore{Total: t, Band: s.bandOf(t)}
	}
	p := v.Data
	if err := intake.Normalize(&p, s.kb, intake.Options{Today: v.Date}); err != nil {
		var ve *ekbom.ValidationError
		if errors.As(err, &ve) {
			d.Problems = ve.Problems
		}
	}
	for i, m := range p.Medications {
		text := m.Resolved.Display
		if text == "" {
			text = medName(v.Data.Medications[i])
		}
		status := string(m.Status)
		if status == "" {
			status = "current"
		}
		if m.Outcome != "" {
			status += ", " + string(m.Outcome)
		}
		d.Meds = append(d.Meds, text+" ("+status+")")
	}
	for _, a := range all {
		if a.VisitID == v.ID {
			d.Assessments = append(d.Assessments, summariseAssessment(a))
		}
	}
	s.render(w, r, http.StatusOK, "visit", "Visit "+v.Date.String()+" — "+rec.Name, "patients", d)
}

// assessError is why a stored visit cannot be assessed: the problems found
// when normalising it (or its age being out of scope).
type assessError struct {
	problems []ekbom.Problem
	err      error
}

func (e *assessError) Error() string { return fmt.Sprintf("cannot assess: %v", e.err) }
func (e *assessError) Unwrap() error { return e.err }

// assess normalises a copy of the visit, evaluates it and stores the
// immutable assessment: the raw input, the plan and the versions.
func (s *Server) assess(ctx context.Context, v *ekbom.Visit, actor string) (*ekbom.Assessment, error) {
	p := v.Data
	if p.AsOf.IsZero() {
		p.AsOf = v.Date
	}
	input, err := marshalJSON(p)
	if err != nil {
		return nil, err
	}
	if err := intake.Normalize(&p, s.kb, intake.Options{Today: v.Date}); err != nil {
		var ve *ekbom.ValidationError
		if errors.As(err, &ve) {
			return nil, &assessError{problems: ve.Problems, err: err}
		}
		return nil, err
	}
	plan, err := s.engine.Evaluate(&p)
	if errors.Is(err, ekbom.ErrOutOfScope) {
		return nil, &assessError{problems: []ekbom.Problem{{Path: "age", Message: "ekbom covers adults (18 and over)"}}, err: err}
	}
	if err != nil {
		return nil, err
	}
	planJSON, err := marshalJSON(plan)
	if err != nil {
		return nil, err
	}
	a := &ekbom.Assessment{PatientID: v.PatientID, VisitID: v.ID, CreatedBy: actor,
		EngineVersion: plan.EngineVersion, KnowledgeVersion: plan.KnowledgeVersion, Input: input, Plan: planJSON}
	if err := s.store.CreateAssessment(ctx, a, actor); err != nil {
		return nil, err
	}
	s.metrics.assessments.Add(1)
	return a, nil
}

func (s *Server) visitAssess(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.store.GetVisit(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	a, err := s.assess(ctx, v, principalFrom(ctx).actor())
	var ae *assessError
	if errors.As(err, &ae) {
		msg := "This visit cannot be assessed until it is corrected: "
		for i, p := range ae.problems {
			if i > 0 {
				msg += "; "
			}
			msg += fieldLabel(p.Path) + ": " + p.Message
		}
		s.errorPage(w, r, http.StatusUnprocessableEntity, msg)
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/assessments/"+a.ID, http.StatusSeeOther)
}

func marshalJSON(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimSpace(buf.Bytes())), nil
}

// summariseAssessment reads the header of a stored plan for a list row.
func summariseAssessment(a ekbom.Assessment) assessmentRow {
	row := assessmentRow{ID: a.ID, CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy, Engine: a.EngineVersion, KB: a.KnowledgeVersion, IRLS: "–"}
	var head struct {
		AsOf     string         `json:"as_of"`
		Status   string         `json:"status"`
		Severity ekbom.Severity `json:"severity"`
	}
	if json.Unmarshal(a.Plan, &head) == nil {
		row.AsOf, row.Status, row.Band = head.AsOf, head.Status, head.Severity.Band
		if head.Severity.IRLS != nil {
			row.IRLS = strconv.Itoa(*head.Severity.IRLS)
		}
	}
	return row
}
