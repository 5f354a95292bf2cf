package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"ekbom"
	"ekbom/intake"
)

// The JSON API. Errors have one shape:
//
//	{"error": {"code": "invalid", "message": "…", "problems": [{"path": "labs[0].unit", "message": "…"}]}}
//
// 400: malformed body (syntax, wrong types, unknown fields); 401: no or bad
// credentials; 403: missing CSRF header on a session call; 404: no such
// record; 409: stale version or duplicate; 413: body over 4 MiB; 415: wrong
// Content-Type; 422: well-formed but invalid content (with problems).

// mediaType returns the request's media type, lower case, without parameters.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// readBody reads the whole request body, answering 413 past the limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		if isTooLarge(err) {
			s.tooLarge(w, r)
		} else {
			s.apiError(w, r, http.StatusBadRequest, "invalid", "the request body could not be read", nil)
		}
		return nil, false
	}
	return data, true
}

// decodeJSON decodes a JSON body strictly into v: the Content-Type must be
// application/json, unknown fields and trailing data are errors.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mediaType(r) != "application/json" {
		s.apiError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json", nil)
		return false
	}
	data, ok := s.readBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON value")
	}
	if err == nil {
		return true
	}
	var p ekbom.Problem
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		p = ekbom.Problem{Path: te.Field, Message: fmt.Sprintf("want %s, got %s", te.Type, te.Value)}
	case errors.As(err, &se):
		p = ekbom.Problem{Message: fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p = ekbom.Problem{Path: field, Message: "unknown field"}
	case errors.Is(err, io.EOF):
		p = ekbom.Problem{Message: "empty body"}
	default:
		p = ekbom.Problem{Message: strings.TrimPrefix(err.Error(), "json: ")}
	}
	s.apiError(w, r, http.StatusBadRequest, "invalid", "the request body is not valid", []ekbom.Problem{p})
	return false
}

func (s *Server) validationError(w http.ResponseWriter, r *http.Request, status int, err error, prefix string) {
	var ve *ekbom.ValidationError
	if !errors.As(err, &ve) {
		s.apiServerError(w, r, err)
		return
	}
	problems := make([]ekbom.Problem, len(ve.Problems))
	for i, p := range ve.Problems {
		problems[i] = ekbom.Problem{Path: joinPath(prefix, p.Path), Message: p.Message}
	}
	code, msg := "invalid", "the record is invalid"
	if ve.OutOfScope {
		code, msg = "out_of_scope", "the record is outside what ekbom covers"
	}
	s.apiError(w, r, status, code, msg, problems)
}

func joinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return strings.TrimSuffix(prefix, ".")
	}
	return prefix + path
}

// apiAssess is the stateless assessment: a patient record in (JSON or YAML),
// the plan out, exactly as the contract describes. Nothing is stored.
func (s *Server) apiAssess(w http.ResponseWriter, r *http.Request) {
	var format string
	switch mediaType(r) {
	case "application/json":
		format = "json"
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		format = "yaml"
	default:
		s.apiError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json or application/yaml", nil)
		return
	}
	data, ok := s.readBody(w, r)
	if !ok {
		return
	}
	p, err := intake.Decode(data, format)
	if err != nil {
		s.validationError(w, r, http.StatusBadRequest, err, "")
		return
	}
	if asOf := r.URL.Query().Get("as_of"); asOf != "" {
		d, err := ekbom.ParseDate(asOf)
		if err != nil {
			s.apiError(w, r, http.StatusBadRequest, "invalid", "bad query parameter", []ekbom.Problem{{Path: "as_of", Message: err.Error()}})
			return
		}
		p.AsOf = d
	}
	if err := intake.Normalize(p, s.kb, intake.Options{Today: s.today()}); err != nil {
		s.validationError(w, r, http.StatusUnprocessableEntity, err, "")
		return
	}
	plan, err := s.engine.Evaluate(p)
	if err != nil {
		if errors.Is(err, ekbom.ErrOutOfScope) {
			s.apiError(w, r, http.StatusUnprocessableEntity, "out_of_scope", "ekbom covers adults (18 and over)", []ekbom.Problem{{Path: "age", Message: "adults only"}})
			return
		}
		s.apiServerError(w, r, err)
		return
	}
	s.metrics.assessments.Add(1)
	writeJSON(w, http.StatusOK, plan)
}

// patientInput is the writable part of a patient record. The read-only
// fields are accepted (so a GET body can be sent back) and ignored.
type patientInput struct {
	MRN       string          `json:"mrn"`
	Name      string          `json:"name"`
	BirthDate *ekbom.Date     `json:"birth_date"`
	Sex       ekbom.Sex       `json:"sex"`
	Notes     string          `json:"notes"`
	Version   int             `json:"version"`
	ID        json.RawMessage `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

func (in patientInput) apply(rec *ekbom.PatientRecord) {
	rec.MRN, rec.Name, rec.BirthDate = strings.TrimSpace(in.MRN), strings.TrimSpace(in.Name), in.BirthDate
	rec.Sex, rec.Notes, rec.Version = in.Sex, in.Notes, in.Version
}

func (s *Server) apiPatientList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit = min(max(limit, 0), 500)
	list, err := s.store.ListPatients(r.Context(), ekbom.PatientFilter{Query: q.Get("q"), Limit: limit, Offset: max(offset, 0)})
	if err != nil {
		s.apiServerError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "patient", "", "list"); err != nil {
		s.apiServerError(w, r, err)
		return
	}
	if list == nil {
		list = []ekbom.PatientRecord{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"patients": list})
}

func (s *Server) apiPatientCreate(w http.ResponseWriter, r *http.Request) {
	var in patientInput
	if !s.decodeJSON(w, r, &in) {
		return
	}
	var rec ekbom.PatientRecord
	in.apply(&rec)
	if ps := patientProblems(&rec, s.today()); len(ps) > 0 {
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the patient record is invalid", ps)
		return
	}
	if err := s.store.CreatePatient(r.Context(), &rec, principalFrom(r.Context()).actor()); err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/patients/"+rec.ID)
	writeJSON(w, http.StatusCreated, rec)
}

func (s *Server) apiPatientGet(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "patient", rec.ID, ""); err != nil {
		s.apiServerError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (s *Server) apiPatientUpdate(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	var in patientInput
	if !s.decodeJSON(w, r, &in) {
		return
	}
	in.apply(rec)
	ps := patientProblems(rec, s.today())
	if in.Version <= 0 {
		ps = append(ps, ekbom.Problem{Path: "version", Message: "required: the version you read (optimistic concurrency)"})
	}
	if len(ps) > 0 {
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the patient record is invalid", ps)
		return
	}
	if err := s.store.UpdatePatient(r.Context(), rec, principalFrom(r.Context()).actor()); err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (s *Server) apiPatientDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.store.DeletePatient(r.Context(), r.PathValue("id"), principalFrom(r.Context()).actor()); err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// visitInput is the writable part of a visit: its date and the patient
// record in the contract's input shape. Read-only fields are ignored.
type visitInput struct {
	Date      ekbom.Date      `json:"date"`
	Data      json.RawMessage `json:"data"`
	Version   int             `json:"version"`
	ID        json.RawMessage `json:"id"`
	PatientID json.RawMessage `json:"patient_id"`
	CreatedBy json.RawMessage `json:"created_by"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// visitData checks a visit's record strictly (intake.Decode for its shape,
// intake.Normalize for its content) and fills what the patient record
// knows: sex, and age from the birth date at the visit date. It returns the
// raw (not normalised) record to store, or writes the error.
func (s *Server) visitData(w http.ResponseWriter, r *http.Request, rec *ekbom.PatientRecord, in *visitInput) (*ekbom.Patient, bool) {
	if len(in.Data) == 0 || string(in.Data) == "null" {
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the visit is invalid", []ekbom.Problem{{Path: "data", Message: "required: the patient record at this visit"}})
		return nil, false
	}
	p, err := intake.Decode(in.Data, "json")
	if err != nil {
		s.validationError(w, r, http.StatusBadRequest, err, "data.")
		return nil, false
	}
	switch {
	case in.Date.IsZero() && p.AsOf.IsZero():
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the visit is invalid", []ekbom.Problem{{Path: "date", Message: "required (YYYY-MM-DD)"}})
		return nil, false
	case in.Date.IsZero():
		in.Date = p.AsOf
	case p.AsOf.IsZero():
		p.AsOf = in.Date
	case p.AsOf != in.Date:
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the visit is invalid", []ekbom.Problem{{Path: "data.as_of", Message: fmt.Sprintf("%s differs from the visit date %s", p.AsOf, in.Date)}})
		return nil, false
	}
	if in.Date.After(s.today()) {
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the visit is invalid", []ekbom.Problem{{Path: "date", Message: in.Date.String() + " is in the future"}})
		return nil, false
	}
	p.ID = rec.ID
	if p.Sex == "" {
		p.Sex = rec.Sex
	}
	if p.Age == nil && rec.BirthDate != nil {
		p.Age = ptrTo(ageAt(*rec.BirthDate, in.Date))
	}
	q := *p
	if err := intake.Normalize(&q, s.kb, intake.Options{Today: in.Date}); err != nil {
		s.validationError(w, r, http.StatusUnprocessableEntity, err, "data.")
		return nil, false
	}
	return p, true
}

func (s *Server) apiVisitList(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	list, err := s.store.ListVisits(r.Context(), rec.ID)
	if err != nil {
		s.apiServerError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "patient", rec.ID, "visits"); err != nil {
		s.apiServerError(w, r, err)
		return
	}
	if list == nil {
		list = []ekbom.Visit{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"visits": list})
}

func (s *Server) apiVisitCreate(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	var in visitInput
	if !s.decodeJSON(w, r, &in) {
		return
	}
	p, ok := s.visitData(w, r, rec, &in)
	if !ok {
		return
	}
	v := &ekbom.Visit{PatientID: rec.ID, Date: in.Date, Data: *p}
	if err := s.store.CreateVisit(r.Context(), v, principalFrom(r.Context()).actor()); err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/visits/"+v.ID)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) apiVisitGet(w http.ResponseWriter, r *http.Request) {
	v, err := s.store.GetVisit(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "visit", v.ID, ""); err != nil {
		s.apiServerError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) apiVisitUpdate(w http.ResponseWriter, r *http.Request) {
	v, err := s.store.GetVisit(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	rec, err := s.store.GetPatient(r.Context(), v.PatientID)
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	var in visitInput
	if !s.decodeJSON(w, r, &in) {
		return
	}
	if in.Version <= 0 {
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the visit is invalid", []ekbom.Problem{{Path: "version", Message: "required: the version you read (optimistic concurrency)"}})
		return
	}
	p, ok := s.visitData(w, r, rec, &in)
	if !ok {
		return
	}
	v.Date, v.Data, v.Version = in.Date, *p, in.Version
	if err := s.store.UpdateVisit(r.Context(), v, principalFrom(r.Context()).actor()); err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) apiVisitDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.store.DeleteVisit(r.Context(), r.PathValue("id"), principalFrom(r.Context()).actor()); err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiVisitAssess(w http.ResponseWriter, r *http.Request) {
	v, err := s.store.GetVisit(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	a, err := s.assess(r.Context(), v, principalFrom(r.Context()).actor())
	var ae *assessError
	if errors.As(err, &ae) {
		problems := make([]ekbom.Problem, len(ae.problems))
		for i, p := range ae.problems {
			problems[i] = ekbom.Problem{Path: joinPath("data.", p.Path), Message: p.Message}
		}
		code := "invalid"
		if errors.Is(err, ekbom.ErrOutOfScope) {
			code = "out_of_scope"
		}
		s.apiError(w, r, http.StatusUnprocessableEntity, code, "the visit cannot be assessed", problems)
		return
	}
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/assessments/"+a.ID)
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) apiAssessmentList(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	list, err := s.store.ListAssessments(r.Context(), rec.ID)
	if err != nil {
		s.apiServerError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "patient", rec.ID, "assessments"); err != nil {
		s.apiServerError(w, r, err)
		return
	}
	if list == nil {
		list = []ekbom.Assessment{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"assessments": list})
}

func (s *Server) apiAssessmentGet(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.GetAssessment(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "assessment", a.ID, ""); err != nil {
		s.apiServerError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}
