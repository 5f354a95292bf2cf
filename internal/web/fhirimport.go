package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"ekbom"
	"ekbom/fhir"
	"ekbom/intake"
)

// importBundle reads a FHIR R4 Bundle as a new visit of rec on date: the same
// reader and checks as `ekbom assess bundle.json`, then the visit is stored
// raw like a typed-in one. Bad FHIR comes back as a *ekbom.ValidationError
// (bundle shape) and bad content as one with FHIR locations (fhir.Locate);
// notes list what was ignored and why.
func (s *Server) importBundle(ctx context.Context, rec *ekbom.PatientRecord, data []byte, date ekbom.Date, actor string) (*ekbom.Visit, []fhir.Note, error) {
	res, err := fhir.ReadBundle(data, s.kb, fhir.Options{AsOf: date})
	if err != nil {
		return nil, nil, err
	}
	p := res.Patient
	p.ID, p.AsOf = rec.ID, date
	if rec.Sex != "" && p.Sex != rec.Sex {
		return nil, nil, &ekbom.ValidationError{Problems: []ekbom.Problem{{
			Path: "Patient.gender", Message: "the bundle's patient is " + string(p.Sex) + " but this record is " + string(rec.Sex) + ": is it the same patient?"}}}
	}
	q := *p
	if err := intake.Normalize(&q, s.kb, intake.Options{Today: date}); err != nil {
		return nil, nil, res.Locate(err)
	}
	v := &ekbom.Visit{PatientID: rec.ID, Date: date, Data: *p}
	if err := s.store.CreateVisit(ctx, v, actor); err != nil {
		return nil, nil, err
	}
	return v, res.Notes, nil
}

// visitDate reads an optional YYYY-MM-DD visit date (default today) and
// refuses future dates.
func (s *Server) visitDate(v string) (ekbom.Date, error) {
	if strings.TrimSpace(v) == "" {
		return s.today(), nil
	}
	d, err := ekbom.ParseDate(v)
	if err != nil {
		return d, &ekbom.ValidationError{Problems: []ekbom.Problem{{Path: "date", Message: err.Error()}}}
	}
	if d.After(s.today()) {
		return d, &ekbom.ValidationError{Problems: []ekbom.Problem{{Path: "date", Message: d.String() + " is in the future"}}}
	}
	return d, nil
}

// apiVisitImport is POST /api/patients/{id}/visits/fhir: a FHIR R4 Bundle in
// the body becomes a new visit (?date=YYYY-MM-DD, default today).
func (s *Server) apiVisitImport(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	date, err := s.visitDate(r.URL.Query().Get("date"))
	if err != nil {
		s.validationError(w, r, http.StatusUnprocessableEntity, err, "")
		return
	}
	data, ok := s.readBody(w, r)
	if !ok {
		return
	}
	v, notes, err := s.importBundle(r.Context(), rec, data, date, principalFrom(r.Context()).actor())
	var verr *ekbom.ValidationError
	switch {
	case errors.As(err, &verr) && !fhir.IsFHIR(data):
		s.validationError(w, r, http.StatusBadRequest, err, "bundle.")
		return
	case errors.As(err, &verr):
		s.validationError(w, r, http.StatusUnprocessableEntity, err, "bundle.")
		return
	case err != nil:
		s.apiStoreError(w, r, err)
		return
	}
	if notes == nil {
		notes = []fhir.Note{}
	}
	w.Header().Set("Location", "/api/visits/"+v.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"visit": v, "notes": notes})
}

// importPage is the form and result of importing a Bundle in the UI.
type importPage struct {
	Patient  *ekbom.PatientRecord
	Date     string
	Problems []ekbom.Problem
	Visit    *ekbom.Visit
	Notes    []fhir.Note
}

func (s *Server) visitImportForm(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "visit_import", "Import FHIR bundle — "+rec.Name, "patients",
		importPage{Patient: rec, Date: s.today().String()})
}

func (s *Server) visitImportSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rec, err := s.store.GetPatient(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	pg := importPage{Patient: rec, Date: r.FormValue("date")}
	fail := func(err error) {
		var verr *ekbom.ValidationError
		if !errors.As(err, &verr) {
			s.storeError(w, r, err)
			return
		}
		pg.Problems = verr.Problems
		s.render(w, r, http.StatusUnprocessableEntity, "visit_import", "Import FHIR bundle — "+rec.Name, "patients", pg)
	}
	date, err := s.visitDate(pg.Date)
	if err != nil {
		fail(err)
		return
	}
	data := []byte(r.FormValue("bundle"))
	if f, _, ferr := r.FormFile("file"); ferr == nil {
		defer f.Close()
		if b, rerr := io.ReadAll(f); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
			data = b
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		fail(&ekbom.ValidationError{Problems: []ekbom.Problem{{Path: "bundle", Message: "paste a FHIR R4 Bundle or choose a file"}}})
		return
	}
	v, notes, err := s.importBundle(ctx, rec, data, date, principalFrom(ctx).actor())
	if err != nil {
		fail(err)
		return
	}
	pg.Visit, pg.Notes = v, notes
	s.render(w, r, http.StatusOK, "visit_import", "Imported FHIR bundle — "+rec.Name, "patients", pg)
}

// questionnaire serves ekbom's FHIR Questionnaire (IRLS, augmentation
// features, lifestyle, screening), which EHRs use to send symptoms.
func (s *Server) questionnaire(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write(fhir.Questionnaire())
}
