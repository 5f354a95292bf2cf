package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"ekbom"
	"ekbom/dose"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/kb"
)

// irlsBand is an IRLS severity band from the knowledge-base cut-offs.
type irlsBand = dose.Band

// loadIRLSBands builds the IRLS bands from thresholds irls.*_min.
func loadIRLSBands(b *kb.Base) ([]irlsBand, error) {
	get := func(id string) (int, error) {
		t, ok := b.Threshold(id)
		if !ok {
			return 0, fmt.Errorf("web: knowledge base lacks threshold %s", id)
		}
		return int(t.Value), nil
	}
	var mins [4]int
	for i, id := range []string{"irls.mild_min", "irls.moderate_min", "irls.severe_min", "irls.very_severe_min"} {
		v, err := get(id)
		if err != nil {
			return nil, err
		}
		mins[i] = v
	}
	return []irlsBand{
		{Min: 0, Max: mins[0] - 1, Name: "none"},
		{Min: mins[0], Max: mins[1] - 1, Name: "mild"},
		{Min: mins[1], Max: mins[2] - 1, Name: "moderate"},
		{Min: mins[2], Max: mins[3] - 1, Name: "severe"},
		{Min: mins[3], Max: 40, Name: "very_severe"},
	}, nil
}

func (s *Server) bandOf(total int) string {
	name, _ := dose.IRLSBand(total, s.irlsBands)
	return name
}

// irlsItem is one IRLS question as the form shows it, from ekbom's FHIR
// Questionnaire (fhir.FormGroup "irls"), so the form and the Questionnaire
// say the same words: a short topic description of the IRLSSG rating scale
// item (source irls2003), not its licensed wording, and its 0–4 anchors.
type irlsItem struct {
	N       int
	Label   string
	Anchors [5]string
}

var irlsItems = irlsFromQuestionnaire()

func irlsFromQuestionnaire() []irlsItem {
	var out []irlsItem
	for _, it := range fhir.FormGroup("irls") {
		n, err := strconv.Atoi(strings.TrimPrefix(it.LinkID, "irls-"))
		if err != nil || !strings.HasPrefix(it.LinkID, "irls-") {
			continue // irls_total
		}
		if len(it.Options) != 5 {
			panic(fmt.Sprintf("web: questionnaire item %s has %d answers, want 5", it.LinkID, len(it.Options)))
		}
		item := irlsItem{N: n, Label: strings.TrimPrefix(it.Text, fmt.Sprintf("IRLS %d. ", n))}
		for v, o := range it.Options {
			item.Anchors[v] = strings.TrimPrefix(o, strconv.Itoa(v)+": ")
		}
		out = append(out, item)
	}
	if len(out) != 10 {
		panic(fmt.Sprintf("web: the questionnaire has %d IRLS items, want 10", len(out)))
	}
	return out
}

// augFeature is one augmentation checklist item (symptoms.augmentation),
// from the Questionnaire's augmentation group (its yes/no questions).
type augFeature struct {
	Field, Label string
}

var augFeatures = augFromQuestionnaire()

func augFromQuestionnaire() []augFeature {
	var out []augFeature
	for _, it := range fhir.FormGroup("augmentation") {
		if it.Type == "boolean" {
			out = append(out, augFeature{Field: it.LinkID, Label: it.Text})
		}
	}
	if len(out) == 0 {
		panic("web: the questionnaire has no augmentation features")
	}
	return out
}

// labUnits lists each test's units as the form offers them; intake accepts
// them all (a test checks).
var labUnits = []unitGroup{
	{"ferritin", []string{"ng/mL", "µg/L"}},
	{"tsat", []string{"%"}},
	{"iron", []string{"µg/dL", "µmol/L"}},
	{"tibc", []string{"µg/dL", "µmol/L"}},
	{"hemoglobin", []string{"g/dL", "g/L"}},
	{"creatinine", []string{"mg/dL", "µmol/L"}},
	{"egfr", []string{"mL/min/1.73m2"}},
	{"crp", []string{"mg/L", "mg/dL"}},
	{"phosphate", []string{"mg/dL", "mmol/L"}},
}

type unitGroup struct {
	Test  string
	Units []string
}

// commonDeclines are the preferences offered as checkboxes.
var commonDeclines = []string{"opioid", "iv_iron", "oral_iron", "alpha2delta_ligand", "peroneal_nerve_stimulation"}

type option struct{ Value, Label string }

// visitOptions are the form's fixed choices, built once.
type visitOptions struct {
	IRLS       []irlsItem
	Aug        []augFeature
	Units      []unitGroup
	Tests      []string
	Products   []option
	Conditions []string
	Declines   []string
	BandsJSON  string
}

func (s *Server) visitOptions() *visitOptions {
	o := &visitOptions{IRLS: irlsItems, Aug: augFeatures, Units: labUnits, Declines: commonDeclines}
	for _, g := range labUnits {
		o.Tests = append(o.Tests, g.Test)
	}
	for _, d := range s.kb.DrugList {
		if d.Class == "iv_iron" {
			o.Products = append(o.Products, option{d.ID, d.Name})
		}
	}
	for _, c := range ekbom.Conditions {
		o.Conditions = append(o.Conditions, string(c))
	}
	b, _ := json.Marshal(s.irlsBands)
	o.BandsJSON = string(b)
	return o
}

type labRow struct {
	Test, Value, Unit, Date, Fasting, Iron24h string
}

type medRow struct {
	Sig, Name, DoseMg, TimesPerDay, DoseMgPer24h, Status, Outcome, Start, Stop string
}

type infusionRow struct {
	Date, Product, DoseMg string
}

// visitForm holds the visit form's values as typed, so a rejected form is
// shown again exactly as it was, with each problem beside its input.
type visitForm struct {
	PatientID, VisitID string
	Version            int
	Patient            *ekbom.PatientRecord
	AgeFromBirth       bool

	Date, Age             string
	IRLS                  [10]string
	IRLSTotal             string
	AugScreened           bool
	Aug                   map[string]bool
	OnsetAdvance          string
	Daytime, Hyperarousal string // "", "yes", "no"
	Labs                  []labRow
	Meds                  []medRow
	Infusions             []infusionRow
	Conditions            []string
	Pregnancy, Weight     string
	Alcohol, Caffeine     string
	Smoker, Sleep         string
	Declines              []string
	DeclinesOther         string
	OpioidRisk, OSA, PDMP string
	Errors                *fieldErrors
	Opts                  *visitOptions
	Computed              *irlsScore // server-side total and band
}

type irlsScore struct {
	Total int
	Band  string
}

// Row views carry their index and messages so the row partials need no
// lookups.
type labRowView struct {
	I     string
	Row   labRow
	Err   map[string]string
	Extra string // a unit the select does not offer for this test, kept as typed
}

type medRowView struct {
	I   string
	Row medRow
	Err map[string]string
}

type infusionRowView struct {
	I   string
	Row infusionRow
	Err map[string]string
}

var labFields = []string{"test", "value", "unit", "date", "fasting", "iron_supplement_within_24h"}
var medFields = []string{"sig", "name", "dose_mg", "times_per_day", "dose_mg_per_24h", "status", "outcome", "start", "stop"}
var infusionFields = []string{"date", "product", "dose_mg"}

func rowErrs(e *fieldErrors, list string, i int, fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		if msg := e.For(fmt.Sprintf("%s[%d][%s]", list, i, f)); msg != "" {
			m[f] = msg
		}
	}
	return m
}

// LabRows returns the lab rows to draw: the filled ones and one blank.
func (f *visitForm) LabRows() []labRowView {
	var out []labRowView
	for i, r := range f.Labs {
		out = append(out, labRowView{I: strconv.Itoa(i), Row: r, Err: rowErrs(f.Errors, "labs", i, labFields), Extra: extraUnit(r)})
	}
	return append(out, labRowView{I: strconv.Itoa(len(f.Labs))})
}

// LabTemplate is the blank lab row that static/app.js clones ("add row").
func (f *visitForm) LabTemplate() labRowView { return labRowView{I: "__i__"} }

// MedTemplate is the blank medication row that static/app.js clones.
func (f *visitForm) MedTemplate() medRowView {
	return medRowView{I: "__i__", Row: medRow{Status: "current"}}
}

// InfusionTemplate is the blank infusion row that static/app.js clones.
func (f *visitForm) InfusionTemplate() infusionRowView { return infusionRowView{I: "__i__"} }

// extraUnit returns the row's unit when the unit select would not offer it
// for the row's test, so that what was typed is shown again.
func extraUnit(r labRow) string {
	if r.Unit == "" {
		return ""
	}
	for _, g := range labUnits {
		if r.Test != "" && g.Test != r.Test {
			continue
		}
		if contains(g.Units, r.Unit) {
			return ""
		}
	}
	return r.Unit
}

// MedRows returns the medication rows to draw: the filled ones and one blank.
func (f *visitForm) MedRows() []medRowView {
	var out []medRowView
	for i, r := range f.Meds {
		out = append(out, medRowView{strconv.Itoa(i), r, rowErrs(f.Errors, "medications", i, medFields)})
	}
	return append(out, medRowView{I: strconv.Itoa(len(f.Meds)), Row: medRow{Status: "current"}})
}

// InfusionRows returns the infusion rows to draw: the filled ones and one blank.
func (f *visitForm) InfusionRows() []infusionRowView {
	var out []infusionRowView
	for i, r := range f.Infusions {
		out = append(out, infusionRowView{strconv.Itoa(i), r, rowErrs(f.Errors, "iron_infusions", i, infusionFields)})
	}
	return append(out, infusionRowView{I: strconv.Itoa(len(f.Infusions))})
}

// Aug checks an augmentation feature.
func (f *visitForm) AugChecked(field string) bool { return f.Aug[field] }

// HasCondition reports whether condition c is ticked.
func (f *visitForm) HasCondition(c string) bool { return contains(f.Conditions, c) }

// Declined reports whether decline d is ticked.
func (f *visitForm) Declined(d string) bool { return contains(f.Declines, d) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var rowKey = regexp.MustCompile(`^(labs|medications|iron_infusions)\[(\d{1,3})\]\[([a-z_0-9]+)\]$`)

// rows groups form keys like labs[3][unit] by list and index.
func rows(form url.Values) map[string]map[int]map[string]string {
	out := map[string]map[int]map[string]string{}
	for k, vs := range form {
		m := rowKey.FindStringSubmatch(k)
		if m == nil || len(vs) == 0 {
			continue
		}
		i, _ := strconv.Atoi(m[2])
		if out[m[1]] == nil {
			out[m[1]] = map[int]map[string]string{}
		}
		if out[m[1]][i] == nil {
			out[m[1]][i] = map[string]string{}
		}
		out[m[1]][i][m[3]] = strings.TrimSpace(vs[0])
	}
	return out
}

// ordered returns the rows of one list by index, dropping blank ones;
// fields in ignore do not make a row non-blank (defaults such as status).
func ordered(m map[int]map[string]string, ignore ...string) []map[string]string {
	idx := make([]int, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var out []map[string]string
	for _, i := range idx {
		blank := true
		for k, v := range m[i] {
			if v != "" && !contains(ignore, k) {
				blank = false
			}
		}
		if !blank {
			out = append(out, m[i])
		}
	}
	return out
}

// readVisitForm reads the posted form into a visitForm (the typed values).
func readVisitForm(form url.Values) *visitForm {
	g := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	f := &visitForm{
		Date: g("date"), Age: g("age"), IRLSTotal: g("irls_total"),
		AugScreened: form.Get("aug_screened") != "", Aug: map[string]bool{},
		OnsetAdvance: g("aug_onset_advance_hours"), Daytime: g("daytime_symptoms"), Hyperarousal: g("hyperarousal"),
		Pregnancy: g("pregnancy"), Weight: g("weight_kg"),
		Alcohol: g("alcohol_drinks_per_week"), Caffeine: g("caffeine_mg_per_day"), Smoker: g("smoker"), Sleep: g("sleep_hours"),
		DeclinesOther: g("declines_other"), OpioidRisk: g("opioid_risk"), OSA: g("osa_screen"), PDMP: g("pdmp_checked"),
		Conditions: form["conditions"], Declines: form["declines"],
	}
	f.Version, _ = strconv.Atoi(form.Get("version"))
	for i := range f.IRLS {
		f.IRLS[i] = g(fmt.Sprintf("irls_%d", i+1))
	}
	for _, a := range augFeatures {
		f.Aug[a.Field] = form.Get("aug_"+a.Field) != ""
	}
	rs := rows(form)
	for _, r := range ordered(rs["labs"]) {
		f.Labs = append(f.Labs, labRow{r["test"], r["value"], r["unit"], r["date"], r["fasting"], r["iron_supplement_within_24h"]})
	}
	for _, r := range ordered(rs["medications"], "status") {
		f.Meds = append(f.Meds, medRow{r["sig"], r["name"], r["dose_mg"], r["times_per_day"], r["dose_mg_per_24h"], r["status"], r["outcome"], r["start"], r["stop"]})
	}
	for _, r := range ordered(rs["iron_infusions"]) {
		f.Infusions = append(f.Infusions, infusionRow{r["date"], r["product"], r["dose_mg"]})
	}
	return f
}

// formBuilder turns typed values into a patient, recording type errors at
// the form input's name and the contract path's label.
type formBuilder struct {
	e *fieldErrors
}

// at names a form input and the contract path it fills.
type at struct{ name, path string }

// field is the input of a contract field outside the lists.
func field(name, path string) at { return at{name, path} }

// cell is the input of field f in row i of list ("labs[2][unit]" for
// "labs[2].unit").
func cell(list string, i int, f string) at {
	return at{fmt.Sprintf("%s[%d][%s]", list, i, f), fmt.Sprintf("%s[%d].%s", list, i, f)}
}

func (b *formBuilder) num(a at, s string) *float64 {
	name, path := a.name, a.path
	if s == "" {
		return nil
	}
	x, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", "."), 64)
	if err != nil {
		b.e.add(name, fieldLabel(path), "want a number")
		return nil
	}
	return &x
}

func (b *formBuilder) date(a at, s string) *ekbom.Date {
	name, path := a.name, a.path
	if s == "" {
		return nil
	}
	d, err := ekbom.ParseDate(s)
	if err != nil {
		b.e.add(name, fieldLabel(path), "want a date YYYY-MM-DD")
		return nil
	}
	return &d
}

func (b *formBuilder) yesNo(a at, s string) *bool {
	name, path := a.name, a.path
	switch s {
	case "":
		return nil
	case "yes":
		t := true
		return &t
	case "no":
		f := false
		return &f
	}
	b.e.add(name, fieldLabel(path), "want yes, no or blank")
	return nil
}

// patient builds the contract record for the visit from the form and the
// patient record (sex, and age from the birth date at the visit date).
func (f *visitForm) patient(rec *ekbom.PatientRecord) *ekbom.Patient {
	f.Errors = &fieldErrors{}
	b := &formBuilder{e: f.Errors}
	p := &ekbom.Patient{ID: rec.ID, Sex: rec.Sex}
	if f.Date == "" {
		f.Errors.add("date", "Visit date", "required")
	} else if d := b.date(field("date", "as_of"), f.Date); d != nil {
		p.AsOf = *d
	}
	switch {
	case rec.BirthDate != nil && !p.AsOf.IsZero():
		p.Age = ptrTo(ageAt(*rec.BirthDate, p.AsOf))
	case rec.BirthDate == nil && f.Age != "":
		n, err := strconv.Atoi(f.Age)
		if err != nil {
			f.Errors.add("age", "Age", "want whole years")
		} else {
			p.Age = &n
		}
	}
	// IRLS: all ten items, or none (then the total may be given alone).
	var items []int
	answered := 0
	for i, v := range f.IRLS {
		if v == "" {
			continue
		}
		answered++
		n, err := strconv.Atoi(v)
		if err != nil {
			f.Errors.add(fmt.Sprintf("irls_%d", i+1), fmt.Sprintf("IRLS item %d", i+1), "want 0–4")
			continue
		}
		items = append(items, n)
	}
	switch {
	case answered == 10 && len(items) == 10:
		p.Symptoms.IRLSItems = items
		if t, err := dose.IRLSTotal(items); err == nil {
			f.Computed = &irlsScore{Total: t}
		}
	case answered > 0 && answered < 10:
		f.Errors.add("irls", "IRLS", fmt.Sprintf("%d of 10 items answered; answer all ten, or none and give the total only", answered))
	}
	if f.IRLSTotal != "" {
		n, err := strconv.Atoi(f.IRLSTotal)
		if err != nil {
			f.Errors.add("irls_total", "IRLS total", "want a whole number 0–40")
		} else {
			p.Symptoms.IRLSTotal = &n
			if f.Computed == nil {
				f.Computed = &irlsScore{Total: n}
			}
		}
	}
	aug := &ekbom.AugmentationFeatures{}
	anyAug := false
	fields := map[string]**bool{
		"earlier_onset": &aug.EarlierOnset, "spread_to_other_body_parts": &aug.SpreadToOtherBodyParts,
		"increased_intensity": &aug.IncreasedIntensity, "shorter_latency_at_rest": &aug.ShorterLatencyAtRest,
		"shorter_medication_effect": &aug.ShorterMedicationEffect, "worse_after_dose_increase": &aug.WorseAfterDoseIncrease,
		"better_after_dose_decrease": &aug.BetterAfterDoseDecrease, "worse_most_days": &aug.WorseMostDays,
		"prior_positive_response": &aug.PriorPositiveResponse,
	}
	for _, a := range augFeatures {
		// Ticked is yes. Unticked is no when the checklist was screened,
		// and unknown otherwise.
		if f.Aug[a.Field] || f.AugScreened {
			*fields[a.Field] = ptrTo(f.Aug[a.Field])
			anyAug = true
		}
	}
	if x := b.num(field("aug_onset_advance_hours", "symptoms.augmentation.onset_advance_hours"), f.OnsetAdvance); x != nil {
		aug.OnsetAdvanceHours, anyAug = x, true
	}
	if anyAug {
		p.Symptoms.Augmentation = aug
	}
	p.Symptoms.DaytimeSymptoms = b.yesNo(field("daytime_symptoms", "symptoms.daytime_symptoms"), f.Daytime)
	p.Symptoms.Hyperarousal = b.yesNo(field("hyperarousal", "symptoms.hyperarousal"), f.Hyperarousal)

	for i, r := range f.Labs {
		l := ekbom.Lab{Test: ekbom.LabTest(r.Test), Unit: r.Unit}
		if c := cell("labs", i, "value"); r.Value == "" {
			f.Errors.add(c.name, fieldLabel(c.path), "required")
		} else if x := b.num(c, r.Value); x != nil {
			l.Value = *x
		}
		if d := b.date(cell("labs", i, "date"), r.Date); d != nil {
			l.Date = *d
		}
		l.Fasting = b.yesNo(cell("labs", i, "fasting"), r.Fasting)
		l.IronSupplementWithin24h = b.yesNo(cell("labs", i, "iron_supplement_within_24h"), r.Iron24h)
		p.Labs = append(p.Labs, l)
	}
	for i, r := range f.Meds {
		c := func(f string) at { return cell("medications", i, f) }
		p.Medications = append(p.Medications, ekbom.Medication{
			Name: r.Name, Sig: r.Sig, Status: ekbom.MedStatus(r.Status), Outcome: ekbom.Outcome(r.Outcome),
			DoseMg:       b.num(c("dose_mg"), r.DoseMg),
			TimesPerDay:  b.num(c("times_per_day"), r.TimesPerDay),
			DoseMgPer24h: b.num(c("dose_mg_per_24h"), r.DoseMgPer24h),
			Start:        b.date(c("start"), r.Start),
			Stop:         b.date(c("stop"), r.Stop),
		})
	}
	for i, r := range f.Infusions {
		inf := ekbom.Infusion{Product: r.Product}
		if d := b.date(cell("iron_infusions", i, "date"), r.Date); d != nil {
			inf.Date = *d
		}
		if x := b.num(cell("iron_infusions", i, "dose_mg"), r.DoseMg); x != nil {
			inf.DoseMg = *x
		}
		p.IronInfusions = append(p.IronInfusions, inf)
	}
	for _, c := range f.Conditions {
		p.Conditions = append(p.Conditions, ekbom.Condition(c))
	}
	p.Pregnancy = ekbom.Pregnancy(f.Pregnancy)
	p.WeightKg = b.num(field("weight_kg", "weight_kg"), f.Weight)
	p.Lifestyle = ekbom.Lifestyle{
		AlcoholDrinksPerWeek: b.num(field("alcohol_drinks_per_week", "lifestyle.alcohol_drinks_per_week"), f.Alcohol),
		CaffeineMgPerDay:     b.num(field("caffeine_mg_per_day", "lifestyle.caffeine_mg_per_day"), f.Caffeine),
		Smoker:               b.yesNo(field("smoker", "lifestyle.smoker"), f.Smoker),
		SleepHours:           b.num(field("sleep_hours", "lifestyle.sleep_hours"), f.Sleep),
	}
	declines := append([]string(nil), f.Declines...)
	for _, d := range strings.Split(f.DeclinesOther, ",") {
		if d = strings.TrimSpace(d); d != "" {
			declines = append(declines, d)
		}
	}
	p.Preferences.Declines = declines
	p.Screening = ekbom.Screening{OpioidRisk: f.OpioidRisk, OSAScreen: f.OSA,
		PDMPChecked: b.yesNo(field("pdmp_checked", "screening.pdmp_checked"), f.PDMP)}
	return p
}

func ptrTo[T any](x T) *T { return &x }

// validate runs intake.Normalize on a copy of p and puts each problem beside
// its input, unless the input already has a type error. It returns whether
// the form is valid.
func (f *visitForm) validate(p *ekbom.Patient, b *kb.Base) bool {
	q := *p
	err := intake.Normalize(&q, b, intake.Options{Today: p.AsOf})
	var ve *ekbom.ValidationError
	if errors.As(err, &ve) {
		typed := map[string]bool{}
		for name := range f.Errors.byName {
			typed[name] = true
		}
		for _, pr := range ve.Problems {
			name := inputName(pr.Path)
			if typed[name] {
				continue
			}
			f.Errors.add(name, fieldLabel(pr.Path), pr.Message)
		}
	} else if err != nil {
		f.Errors.add("form", "Form", err.Error())
	}
	return !f.Errors.Any()
}

var (
	listPath   = regexp.MustCompile(`^(labs|medications|iron_infusions)\[(\d+)\](?:\.([a-z_0-9]+))?$`)
	irlsItemRe = regexp.MustCompile(`^symptoms\.irls_items\[(\d+)\]$`)
	indexed    = regexp.MustCompile(`^(conditions|preferences\.declines)\[\d+\]$`)
)

// inputName maps a problem path of the contract ("labs[2].unit") to the
// name of the form input that holds it ("labs[2][unit]").
func inputName(path string) string {
	if m := listPath.FindStringSubmatch(path); m != nil {
		field := m[3]
		if field == "" { // the row as a whole, e.g. "give name or sig"
			field = map[string]string{"labs": "test", "medications": "name", "iron_infusions": "product"}[m[1]]
		}
		return fmt.Sprintf("%s[%s][%s]", m[1], m[2], field)
	}
	if m := irlsItemRe.FindStringSubmatch(path); m != nil {
		i, _ := strconv.Atoi(m[1])
		return fmt.Sprintf("irls_%d", i+1)
	}
	if m := indexed.FindStringSubmatch(path); m != nil {
		return map[string]string{"conditions": "conditions", "preferences.declines": "declines"}[m[1]]
	}
	switch path {
	case "as_of":
		return "date"
	case "symptoms.irls_total":
		return "irls_total"
	case "symptoms.irls_items":
		return "irls"
	}
	for _, prefix := range []string{"symptoms.augmentation.", "symptoms.", "lifestyle.", "screening."} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			if prefix == "symptoms.augmentation." {
				return "aug_" + rest
			}
			return rest
		}
	}
	return path // age, sex, pregnancy, weight_kg
}

// fieldLabel names a contract path for people: "labs[2].unit" → "Lab 3: unit".
func fieldLabel(path string) string {
	if m := listPath.FindStringSubmatch(path); m != nil {
		i, _ := strconv.Atoi(m[2])
		noun := map[string]string{"labs": "Lab", "medications": "Medication", "iron_infusions": "Infusion"}[m[1]]
		s := fmt.Sprintf("%s %d", noun, i+1)
		if m[3] != "" {
			s += ": " + strings.ReplaceAll(m[3], "_", " ")
		}
		return s
	}
	if m := irlsItemRe.FindStringSubmatch(path); m != nil {
		i, _ := strconv.Atoi(m[1])
		return fmt.Sprintf("IRLS item %d", i+1)
	}
	switch path {
	case "as_of":
		return "Visit date"
	case "age":
		return "Age"
	case "sex":
		return "Sex (from the patient record)"
	}
	s := path
	if i := strings.LastIndex(s, "."); i >= 0 {
		s = s[i+1:]
	}
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return "Form"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// formFromPatient fills the form from a stored visit's record.
func formFromPatient(v *ekbom.Visit) *visitForm {
	p := v.Data
	f := &visitForm{VisitID: v.ID, PatientID: v.PatientID, Version: v.Version, Date: v.Date.String(), Aug: map[string]bool{},
		Pregnancy: string(p.Pregnancy), Weight: fnum(p.WeightKg), OpioidRisk: p.Screening.OpioidRisk, OSA: p.Screening.OSAScreen,
		PDMP: yn(p.Screening.PDMPChecked), Daytime: yn(p.Symptoms.DaytimeSymptoms), Hyperarousal: yn(p.Symptoms.Hyperarousal),
		Alcohol: fnum(p.Lifestyle.AlcoholDrinksPerWeek), Caffeine: fnum(p.Lifestyle.CaffeineMgPerDay),
		Smoker: yn(p.Lifestyle.Smoker), Sleep: fnum(p.Lifestyle.SleepHours), Errors: &fieldErrors{}}
	if p.PregnancyDefaulted {
		f.Pregnancy = "" // "not recorded", as entered
	}
	if p.Age != nil {
		f.Age = strconv.Itoa(*p.Age)
	}
	if len(p.Symptoms.IRLSItems) == 10 {
		for i, x := range p.Symptoms.IRLSItems {
			f.IRLS[i] = strconv.Itoa(x)
		}
	} else if p.Symptoms.IRLSTotal != nil {
		f.IRLSTotal = strconv.Itoa(*p.Symptoms.IRLSTotal)
	}
	if a := p.Symptoms.Augmentation; a != nil {
		all := map[string]*bool{
			"earlier_onset": a.EarlierOnset, "spread_to_other_body_parts": a.SpreadToOtherBodyParts,
			"increased_intensity": a.IncreasedIntensity, "shorter_latency_at_rest": a.ShorterLatencyAtRest,
			"shorter_medication_effect": a.ShorterMedicationEffect, "worse_after_dose_increase": a.WorseAfterDoseIncrease,
			"better_after_dose_decrease": a.BetterAfterDoseDecrease, "worse_most_days": a.WorseMostDays,
			"prior_positive_response": a.PriorPositiveResponse,
		}
		screened := true
		for k, v := range all {
			f.Aug[k] = v != nil && *v
			if v == nil {
				screened = false
			}
		}
		f.AugScreened = screened
		f.OnsetAdvance = fnum(a.OnsetAdvanceHours)
	}
	for _, l := range p.Labs {
		f.Labs = append(f.Labs, labRow{string(l.Test), strconv.FormatFloat(l.Value, 'f', -1, 64), l.Unit, l.Date.String(), yn(l.Fasting), yn(l.IronSupplementWithin24h)})
	}
	for _, m := range p.Medications {
		f.Meds = append(f.Meds, medRow{m.Sig, m.Name, fnum(m.DoseMg), fnum(m.TimesPerDay), fnum(m.DoseMgPer24h), string(m.Status), string(m.Outcome), dstr(m.Start), dstr(m.Stop)})
	}
	for _, x := range p.IronInfusions {
		f.Infusions = append(f.Infusions, infusionRow{x.Date.String(), x.Product, strconv.FormatFloat(x.DoseMg, 'f', -1, 64)})
	}
	for _, c := range p.Conditions {
		f.Conditions = append(f.Conditions, string(c))
	}
	var other []string
	for _, d := range p.Preferences.Declines {
		if contains(commonDeclines, d) {
			f.Declines = append(f.Declines, d)
		} else {
			other = append(other, d)
		}
	}
	f.DeclinesOther = strings.Join(other, ", ")
	return f
}

func fnum(x *float64) string {
	if x == nil {
		return ""
	}
	return strconv.FormatFloat(*x, 'f', -1, 64)
}

func yn(b *bool) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return "yes"
	}
	return "no"
}

func dstr(d *ekbom.Date) string {
	if d == nil {
		return ""
	}
	return d.String()
}
