package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"ekbom"
)

// fieldErrors holds messages by form input name, plus a summary for the top
// of the form.
type fieldErrors struct {
	byName  map[string][]string
	Summary []ekbom.Problem // every problem, with the label of its field
}

// For returns the messages of input name joined for display.
func (e *fieldErrors) For(name string) string {
	if e == nil {
		return ""
	}
	return strings.Join(e.byName[name], "; ")
}

// Any reports whether there is any problem.
func (e *fieldErrors) Any() bool { return e != nil && len(e.Summary) > 0 }

func (e *fieldErrors) add(name, label, msg string) {
	if e.byName == nil {
		e.byName = map[string][]string{}
	}
	e.byName[name] = append(e.byName[name], msg)
	e.Summary = append(e.Summary, ekbom.Problem{Path: label, Message: msg})
}

// patientProblems checks a patient record's own fields (not the clinical
// facts, which live in visits). Paths are the JSON field names.
func patientProblems(rec *ekbom.PatientRecord, today ekbom.Date) []ekbom.Problem {
	var v ekbom.ValidationError
	switch n := utf8.RuneCountInString(strings.TrimSpace(rec.Name)); {
	case n == 0:
		v.Add("name", "required")
	case n > 200:
		v.Add("name", "at most 200 characters")
	}
	if utf8.RuneCountInString(rec.MRN) > 64 {
		v.Add("mrn", "at most 64 characters")
	}
	switch rec.Sex {
	case ekbom.Female, ekbom.Male:
	case "":
		v.Add("sex", "required (female or male)")
	default:
		v.Add("sex", "unknown value %q; want female or male", rec.Sex)
	}
	if b := rec.BirthDate; b != nil {
		if b.After(today) {
			v.Add("birth_date", "%s is in the future", b)
		}
		if b.Before(ekbom.DateOf(1900, 1, 1)) {
			v.Add("birth_date", "%s is before 1900", b)
		}
	}
	if utf8.RuneCountInString(rec.Notes) > 4000 {
		v.Add("notes", "at most 4000 characters")
	}
	return v.Problems
}

// ageAt returns the age in whole years on date d of someone born on birth.
func ageAt(birth, d ekbom.Date) int {
	bt, dt := birth.Time(), d.Time()
	age := dt.Year() - bt.Year()
	if dt.Month() < bt.Month() || (dt.Month() == bt.Month() && dt.Day() < bt.Day()) {
		age--
	}
	return age
}

type patientListData struct {
	Query    string
	Patients []patientRow
	More     bool
	Offset   int
}

type patientRow struct {
	ekbom.PatientRecord
	Age string
}

func (s *Server) patientList(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if utf8.RuneCountInString(q) > 100 {
		q = string([]rune(q)[:100])
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	offset = max(offset, 0)
	const limit = 50
	list, err := s.store.ListPatients(r.Context(), ekbom.PatientFilter{Query: q, Limit: limit + 1, Offset: offset})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "patient", "", "list"); err != nil {
		s.serverError(w, r, err)
		return
	}
	d := patientListData{Query: q, Offset: offset}
	if len(list) > limit {
		list, d.More = list[:limit], true
	}
	today := s.today()
	for _, p := range list {
		row := patientRow{PatientRecord: p}
		if p.BirthDate != nil {
			row.Age = strconv.Itoa(ageAt(*p.BirthDate, today))
		}
		d.Patients = append(d.Patients, row)
	}
	s.render(w, r, http.StatusOK, "patients", "Patients", "patients", d)
}

// patientForm is the patient form's values as typed, so a rejected form is
// shown again exactly as it was.
type patientForm struct {
	ID, Name, MRN, BirthDate, Sex, Notes string
	Version                              int
	Errors                               *fieldErrors
}

func formFromRecord(p *ekbom.PatientRecord) patientForm {
	f := patientForm{ID: p.ID, Name: p.Name, MRN: p.MRN, Sex: string(p.Sex), Notes: p.Notes, Version: p.Version}
	if p.BirthDate != nil {
		f.BirthDate = p.BirthDate.String()
	}
	return f
}

// parsePatientForm reads the patient form into rec and returns the form
// values with any problems beside their inputs.
func (s *Server) parsePatientForm(r *http.Request, rec *ekbom.PatientRecord) patientForm {
	f := patientForm{
		Name: strings.TrimSpace(r.PostForm.Get("name")), MRN: strings.TrimSpace(r.PostForm.Get("mrn")),
		BirthDate: strings.TrimSpace(r.PostForm.Get("birth_date")), Sex: r.PostForm.Get("sex"),
		Notes: r.PostForm.Get("notes"), Errors: &fieldErrors{},
	}
	f.Version, _ = strconv.Atoi(r.PostForm.Get("version"))
	rec.Name, rec.MRN, rec.Sex, rec.Notes = f.Name, f.MRN, ekbom.Sex(f.Sex), f.Notes
	rec.BirthDate = nil
	if f.BirthDate != "" {
		d, err := ekbom.ParseDate(f.BirthDate)
		if err != nil {
			f.Errors.add("birth_date", "Birth date", "want a date YYYY-MM-DD")
		} else {
			rec.BirthDate = &d
		}
	}
	labels := map[string]string{"name": "Name", "mrn": "MRN", "sex": "Sex", "birth_date": "Birth date", "notes": "Notes"}
	for _, p := range patientProblems(rec, s.today()) {
		f.Errors.add(p.Path, labels[p.Path], p.Message)
	}
	return f
}

func (s *Server) patientNew(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "patient_form", "New patient", "patients", patientForm{})
}

func (s *Server) patientCreate(w http.ResponseWriter, r *http.Request) {
	var rec ekbom.PatientRecord
	f := s.parsePatientForm(r, &rec)
	if f.Errors.Any() {
		s.render(w, r, http.StatusUnprocessableEntity, "patient_form", "New patient", "patients", f)
		return
	}
	err := s.store.CreatePatient(r.Context(), &rec, principalFrom(r.Context()).actor())
	if errors.Is(err, ekbom.ErrConflict) {
		f.Errors.add("mrn", "MRN", "another patient has this MRN")
		s.render(w, r, http.StatusConflict, "patient_form", "New patient", "patients", f)
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/patients/"+rec.ID, http.StatusSeeOther)
}

func (s *Server) patientEdit(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "patient", rec.ID, "edit form"); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "patient_form", "Edit patient", "patients", formFromRecord(rec))
}

func (s *Server) patientUpdate(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.GetPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	f := s.parsePatientForm(r, rec)
	f.ID = rec.ID
	rec.Version = f.Version
	if f.Errors.Any() {
		s.render(w, r, http.StatusUnprocessableEntity, "patient_form", "Edit patient", "patients", f)
		return
	}
	err = s.store.UpdatePatient(r.Context(), rec, principalFrom(r.Context()).actor())
	if errors.Is(err, ekbom.ErrConflict) {
		f.Errors.add("form", "Form", "this patient was changed by someone else meanwhile, or the MRN belongs to another patient; reload the page to see the current record")
		s.render(w, r, http.StatusConflict, "patient_form", "Edit patient", "patients", f)
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/patients/"+rec.ID+"?saved=1", http.StatusSeeOther)
}

func (s *Server) patientDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if r.PostForm.Get("confirm") != "yes" {
		s.errorPage(w, r, http.StatusUnprocessableEntity, "Tick the confirmation box to delete a patient with all visits and assessments.")
		return
	}
	if err := s.store.DeletePatient(r.Context(), id, principalFrom(r.Context()).actor()); err != nil {
		s.storeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/patients", http.StatusSeeOther)
}

type patientViewData struct {
	Patient     *ekbom.PatientRecord
	Age         string
	Visits      []visitRow
	Assessments []assessmentRow
	Charts      []Chart
	Best        BestFerritin
	WindowDays  int
	MinPairs    int
	Saved       bool
}

type visitRow struct {
	ekbom.Visit
	IRLS string
}

type assessmentRow struct {
	ID, Status, Band string
	IRLS             string
	AsOf             string
	CreatedAt        time.Time
	CreatedBy        string
	Engine, KB       string
}

func (s *Server) patientView(w http.ResponseWriter, r *http.Request) {
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
	assessments, err := s.store.ListAssessments(ctx, rec.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.audit(r, "view", "patient", rec.ID, ""); err != nil {
		s.serverError(w, r, err)
		return
	}
	d := patientViewData{Patient: rec, WindowDays: BestFerritinWindowDays, MinPairs: BestFerritinMinPairs,
		Saved: r.URL.Query().Get("saved") != ""}
	if rec.BirthDate != nil {
		d.Age = strconv.Itoa(ageAt(*rec.BirthDate, s.today()))
	}
	for i := len(visits) - 1; i >= 0; i-- { // newest first
		v := visits[i]
		row := visitRow{Visit: v, IRLS: "–"}
		if t, ok := irlsTotal(v.Data.Symptoms); ok {
			row.IRLS = strconv.Itoa(t)
		}
		d.Visits = append(d.Visits, row)
	}
	for _, a := range assessments {
		d.Assessments = append(d.Assessments, summariseAssessment(a))
	}
	tl := BuildTimeline(visits, s.kb)
	d.Charts = s.timelineCharts(tl)
	d.Best = FerritinAtBest(tl.IRLS, tl.Ferritin)
	s.render(w, r, http.StatusOK, "patient", rec.Name, "patients", d)
}

// timelineCharts draws ferritin, TSAT and IRLS over time with the
// knowledge-base thresholds as reference lines.
func (s *Server) timelineCharts(tl Timeline) []Chart {
	th := func(id, unit, class string) Threshold {
		t, ok := s.kb.Threshold(id)
		if !ok {
			return Threshold{}
		}
		return Threshold{Value: t.Value, Label: strconv.FormatFloat(t.Value, 'f', -1, 64) + " " + unit, Class: class}
	}
	var ferritinTh, tsatTh []Threshold
	for _, t := range []Threshold{
		th("iron.ferritin_start_max", "ng/mL", "th-low"),
		th("iron.ferritin_iv_only_max", "ng/mL", "th-mid"),
		th("iron.ferritin_overload", "ng/mL", "th-high"),
	} {
		if t.Label != "" {
			ferritinTh = append(ferritinTh, t)
		}
	}
	for _, t := range []Threshold{th("iron.tsat_low", "%", "th-low"), th("iron.tsat_overload", "%", "th-high")} {
		if t.Label != "" {
			tsatTh = append(tsatTh, t)
		}
	}
	irls := make([]Point, len(tl.IRLS))
	for i, p := range tl.IRLS {
		irls[i] = Point{Date: p.Date, Value: float64(p.Total)}
	}
	var bandTh []Threshold
	for _, b := range s.irlsBands[1:] { // band lower bounds above "none"
		bandTh = append(bandTh, Threshold{Value: float64(b.Min), Label: strings.ReplaceAll(b.Name, "_", " ") + " ≥ " + strconv.Itoa(b.Min), Class: "th-band"})
	}
	return []Chart{
		buildChart("ferritin-chart", "ferritin", "ng/mL", tl.Ferritin, ferritinTh, chartMarks{tl.Infusions, "mark-infusion"}),
		buildChart("tsat-chart", "TSAT", "%", tl.TSAT, tsatTh, chartMarks{tl.Infusions, "mark-infusion"}),
		buildChart("irls-chart", "IRLS", "points", irls, bandTh, chartMarks{tl.MedEvents, "mark-med"}),
	}
}
