package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ekbom"
)

// visitValues is a valid visit form for a woman on pramipexole with
// augmentation, as a clinician would fill it in.
func visitValues(csrf string) url.Values {
	v := url.Values{
		"csrf": {csrf}, "date": {"2025-11-21"}, "weight_kg": {"68"},
		"aug_screened": {"1"}, "aug_earlier_onset": {"1"}, "aug_spread_to_other_body_parts": {"1"},
		"aug_worse_most_days": {"1"}, "aug_prior_positive_response": {"1"}, "aug_onset_advance_hours": {"5"},
		"daytime_symptoms": {"yes"},
		"labs[0][test]":    {"ferritin"}, "labs[0][value]": {"48"}, "labs[0][unit]": {"ng/mL"}, "labs[0][date]": {"2025-11-02"}, "labs[0][fasting]": {"yes"},
		"labs[1][test]": {"tsat"}, "labs[1][value]": {"16"}, "labs[1][unit]": {"%"}, "labs[1][date]": {"2025-11-02"}, "labs[1][fasting]": {"yes"},
		"labs[2][test]": {""}, "labs[2][value]": {""}, // a blank row is ignored
		"medications[0][sig]": {"pramipexole 0.25 mg three times daily"}, "medications[0][status]": {"current"}, "medications[0][start]": {"2020-09-01"},
		"medications[1][name]": {"gabapentin"}, "medications[1][dose_mg]": {"300"}, "medications[1][times_per_day]": {"1"},
		"medications[1][status]": {"past"}, "medications[1][outcome]": {"ineffective"},
		"medications[2][status]": {"current"}, // blank row with a default
		"conditions":             {"depression"}, "declines": {"opioid"},
		"alcohol_drinks_per_week": {"4"}, "caffeine_mg_per_day": {"300"}, "smoker": {"no"}, "sleep_hours": {"5"},
		"osa_screen": {"negative"},
	}
	for i, x := range []string{"3", "3", "3", "3", "3", "3", "3", "3", "3", "2"} { // total 29
		v.Set("irls_"+strconv.Itoa(i+1), x)
	}
	return v
}

var locRe = regexp.MustCompile(`^/(patients|visits|assessments)/([^/?]+)`)

func idFrom(t *testing.T, r *response, kind string) string {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("want 303, got %d\n%s", r.StatusCode, r.body)
	}
	m := locRe.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil || m[1] != kind {
		t.Fatalf("redirect to %q, want /%s/…", r.Header.Get("Location"), kind)
	}
	return m[2]
}

func TestFullFlow(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("carol", ekbom.RoleClinician)
	csrf := b.csrf()

	r := b.post("/patients", url.Values{"csrf": {csrf}, "name": {"Jane Roe"}, "mrn": {"A-100"}, "birth_date": {"1964-03-02"}, "sex": {"female"}})
	pid := idFrom(t, r, "patients")

	r = b.post("/patients/"+pid+"/visits", visitValues(csrf))
	vid := idFrom(t, r, "visits")

	r = b.get("/visits/" + vid + "?saved=1")
	if r.StatusCode != 200 || !strings.Contains(r.body, `<button type="submit" id="assess">`) {
		t.Fatalf("visit page lacks the Assess button: %d\n%s", r.StatusCode, r.body)
	}
	if !strings.Contains(r.body, "29/40") {
		t.Errorf("visit page lacks the IRLS total 29/40")
	}
	v, err := e.store.GetVisit(context.Background(), vid)
	if err != nil {
		t.Fatal(err)
	}
	if *v.Data.Age != 61 || v.Data.Sex != ekbom.Female || len(v.Data.Labs) != 2 || len(v.Data.Medications) != 2 {
		t.Errorf("stored visit: age %v sex %s labs %d meds %d", *v.Data.Age, v.Data.Sex, len(v.Data.Labs), len(v.Data.Medications))
	}
	if v.Data.Labs[0].Unit != "ng/mL" || v.Data.Medications[0].Resolved.Ingredient != "" {
		t.Errorf("visit must be stored raw, not normalised: %+v", v.Data.Labs[0])
	}

	r = b.post("/visits/"+vid+"/assess", url.Values{"csrf": {csrf}})
	aid := idFrom(t, r, "assessments")
	r = b.get("/assessments/" + aid)
	if r.StatusCode != 200 {
		t.Fatalf("plan page: %d\n%s", r.StatusCode, r.body)
	}
	w, s := strings.Index(r.body, `<section id="warnings"`), strings.Index(r.body, `<section id="steps"`)
	if w < 0 || s < 0 || w > s {
		t.Errorf("warnings section (%d) must come before steps (%d)", w, s)
	}
	for _, want := range []string{"not a medical device", `id="print"`, "augmentation", "sev-high", `href="/kb/sources#`, "currently taking", "engine " + ekbom.EngineVersion} {
		if !strings.Contains(r.body, want) {
			t.Errorf("plan page lacks %q", want)
		}
	}

	// The stored plan is what the page shows, and it matches the contract.
	a, err := e.store.GetAssessment(context.Background(), aid)
	if err != nil {
		t.Fatal(err)
	}
	var plan ekbom.Plan
	if err := json.Unmarshal(a.Plan, &plan); err != nil {
		t.Fatal(err)
	}
	if a.VisitID != vid || a.KnowledgeVersion == "" || plan.KnowledgeVersion != a.KnowledgeVersion || len(plan.Steps) == 0 {
		t.Errorf("assessment: %+v", a)
	}
	var input ekbom.Patient
	if err := json.Unmarshal(a.Input, &input); err != nil || input.AsOf.String() != "2025-11-21" {
		t.Errorf("assessment input snapshot: %v %+v", err, input.AsOf)
	}

	r = b.get("/assessments/" + aid + "/handout")
	if r.StatusCode != 200 {
		t.Fatalf("handout: %d", r.StatusCode)
	}
	for _, want := range []string{"What to do next", "Medicines not to start", "When to come back", "not a medical device", `class="handout"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("handout lacks %q", want)
		}
	}
	for _, m := range plan.Monitoring {
		if !strings.Contains(r.body, m.Due.String()) {
			t.Errorf("handout lacks monitoring date %s", m.Due)
		}
	}
	avoid := regexp.MustCompile(`(?s)<section id="avoid-drugs">.*?</section>`).FindString(r.body)
	for _, a := range plan.Avoid {
		name := "<li>" + strings.ReplaceAll(a.Target, "_", " ") + "</li>"
		if a.CurrentlyTaking == strings.Contains(avoid, name) {
			t.Errorf("handout: %s (currently taking %v) listed wrongly under not to start", a.Target, a.CurrentlyTaking)
		}
	}

	// The patient overview lists the visit and the assessment.
	r = b.get("/patients/" + pid)
	if !strings.Contains(r.body, "/visits/"+vid) || !strings.Contains(r.body, "/assessments/"+aid) {
		t.Error("patient page lacks the visit or the assessment")
	}
	// The next visit form is prefilled from this one, with blank symptoms.
	r = b.get("/patients/" + pid + "/visits/new")
	if !strings.Contains(r.body, "Prefilled from the visit of 2025-11-21") || !strings.Contains(r.body, `value="pramipexole 0.25 mg three times daily"`) {
		t.Error("new visit form is not prefilled from the last visit")
	}
	if strings.Contains(r.body, `name="irls_1" value="3" checked`) {
		t.Error("new visit form must not carry over IRLS answers")
	}
}

// TestPlanPageRendersStoredPlan checks that the plan page draws the stored
// JSON, not a fresh evaluation: a hand-edited plan shows as stored.
func TestPlanPageRendersStoredPlan(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("dan", ekbom.RoleClinician)
	p := e.patient("Old Plan", "1950-01-01")
	plan := `{"patient_id":"x","as_of":"2020-01-01","engine_version":"0.0.1","knowledge_version":"1999.1","pathway":"standard",
	"severity":{"irls":12,"band":"moderate"},"status":"undetermined","status_reasons":["r"],"findings":[],
	"steps":[{"id":"iron","title":"1. Old iron step","recommendations":[{"rule":"old.rule","action":"test","target":"ferritin","text":"An old text.","strength":"strong","certainty":"low","grade_verified":true,"sources":["aasm2025"],"because":["b"],"priority":1}]}],
	"warnings":[{"code":"iron_overload","severity":"high","text":"Old warning.","because":[]}],"avoid":[],"monitoring":[],"missing":[],"conflicts":[],"sources":{"aasm2025":{"citation":"Old citation"}}}`
	a := &ekbom.Assessment{PatientID: p.ID, CreatedBy: "test", EngineVersion: "0.0.1", KnowledgeVersion: "1999.1", Input: json.RawMessage(`{}`), Plan: json.RawMessage(plan)}
	if err := e.store.CreateAssessment(context.Background(), a, "test"); err != nil {
		t.Fatal(err)
	}
	r := b.get("/assessments/" + a.ID)
	for _, want := range []string{"1. Old iron step", "An old text.", "Old warning.", "knowledge base 1999.1", "Old citation", "engine 0.0.1"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("plan page lacks %q", want)
		}
	}
}

func TestVisitFormBadUnit(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("erin", ekbom.RoleClinician)
	p := e.patient("Unit Test", "1970-01-01")
	v := visitValues(b.csrf())
	v.Set("labs[1][unit]", "mmol/L") // not a TSAT unit
	v.Set("labs[0][value]", "abc")   // not a number
	r := b.post("/patients/"+p.ID+"/visits", v)
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", r.StatusCode)
	}
	// The message sits in the same row as the input, right after the unit select.
	row := regexp.MustCompile(`(?s)<div class="row lab-row" data-row="1">.*?</div>`).FindString(r.body)
	if !regexp.MustCompile(`(?s)name="labs\[1\]\[unit\]".*?</select><span class="field-error">unknown unit &#34;mmol/L&#34; for tsat`).MatchString(row) {
		t.Errorf("lab row 1 lacks the unit message beside its select:\n%s", row)
	}
	if !strings.Contains(row, `<option value="mmol/L" selected>`) {
		t.Error("the typed unit is not kept")
	}
	row0 := regexp.MustCompile(`(?s)<div class="row lab-row" data-row="0">.*?</div>`).FindString(r.body)
	if !strings.Contains(row0, "want a number") || !strings.Contains(row0, `value="abc"`) {
		t.Errorf("lab row 0 lacks the number message or the typed value:\n%s", row0)
	}
	sum := strings.Index(r.body, `id="error-summary"`)
	if sum < 0 || sum > strings.Index(r.body, `<form id="visit-form"`) {
		t.Error("no error summary above the form")
	}
	for _, want := range []string{"Lab 2: unit", "Lab 1: value"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	// Everything typed is kept.
	if !strings.Contains(r.body, `value="pramipexole 0.25 mg three times daily"`) || !strings.Contains(r.body, `name="irls_1" value="3" checked`) {
		t.Error("form values were lost")
	}
	if !strings.Contains(r.body, `<output id="irls-total" for="irls">29</output>`) {
		t.Error("server-side IRLS total missing")
	}
	vs, _ := e.store.ListVisits(context.Background(), p.ID)
	if len(vs) != 0 {
		t.Errorf("an invalid visit was saved")
	}
}

func TestVisitFormPaths(t *testing.T) {
	tests := []struct{ path, name string }{
		{"labs[2].unit", "labs[2][unit]"},
		{"labs[0]", "labs[0][test]"},
		{"medications[1]", "medications[1][name]"},
		{"medications[0].sig", "medications[0][sig]"},
		{"iron_infusions[3].product", "iron_infusions[3][product]"},
		{"symptoms.irls_items[4]", "irls_5"},
		{"symptoms.irls_total", "irls_total"},
		{"symptoms.augmentation.onset_advance_hours", "aug_onset_advance_hours"},
		{"symptoms.daytime_symptoms", "daytime_symptoms"},
		{"lifestyle.sleep_hours", "sleep_hours"},
		{"screening.osa_screen", "osa_screen"},
		{"preferences.declines[2]", "declines"},
		{"conditions[0]", "conditions"},
		{"as_of", "date"},
		{"weight_kg", "weight_kg"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if got := inputName(tc.path); got != tc.name {
				t.Errorf("inputName(%q) = %q, want %q", tc.path, got, tc.name)
			}
		})
	}
}

func TestVisitFormAddRowWithoutJS(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("fay", ekbom.RoleClinician)
	p := e.patient("Rows", "")
	v := visitValues(b.csrf())
	v.Set("add", "labs")
	r := b.post("/patients/"+p.ID+"/visits", v)
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	// two filled rows, the added blank one and the usual blank one
	if n := len(regexp.MustCompile(`<div class="row lab-row" data-row="\d`).FindAllString(r.body, -1)); n != 4 {
		t.Errorf("%d lab rows, want 4", n)
	}
	if strings.Contains(r.body, `id="error-summary"`) {
		t.Error("adding a row must not validate")
	}
	// No birth date: the age field is shown and required.
	if !strings.Contains(r.body, `name="age"`) {
		t.Error("no age field for a patient without birth date")
	}
	r = b.post("/patients/"+p.ID+"/visits", visitValues(b.csrf()))
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Age:</strong> required") {
		t.Errorf("missing age: status %d", r.StatusCode)
	}
}

func TestVisitEditVersionConflict(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("gus", ekbom.RoleClinician)
	p := e.patient("Edit Me", "1970-01-01")
	csrf := b.csrf()
	vid := idFrom(t, b.post("/patients/"+p.ID+"/visits", visitValues(csrf)), "visits")
	r := b.get("/visits/" + vid + "/edit")
	if !strings.Contains(r.body, `name="version" value="1"`) || !strings.Contains(r.body, `value="pramipexole 0.25 mg three times daily"`) {
		t.Fatalf("edit form not filled:\n%s", r.body)
	}
	v := visitValues(csrf)
	v.Set("version", "1")
	v.Set("weight_kg", "70")
	if r := b.post("/visits/"+vid+"/edit", v); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("first update: %d\n%s", r.StatusCode, r.body)
	}
	r = b.post("/visits/"+vid+"/edit", v) // still version 1
	if r.StatusCode != http.StatusConflict || !strings.Contains(r.body, "changed by someone else") {
		t.Errorf("stale update: %d", r.StatusCode)
	}
}

func TestTimelineSVG(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("hal", ekbom.RoleClinician)
	p := e.patient("Chart", "1960-01-01")
	ctx := context.Background()
	mk := func(date string, ferritin float64, irls int, infusion bool) {
		d, _ := ekbom.ParseDate(date)
		data := ekbom.Patient{ID: p.ID, AsOf: d, Age: ptrTo(60), Sex: ekbom.Female,
			Labs:        []ekbom.Lab{{Test: ekbom.Ferritin, Value: ferritin, Unit: "µg/L", Date: d}, {Test: ekbom.TSAT, Value: 25, Unit: "%", Date: d}},
			Symptoms:    ekbom.Symptoms{IRLSTotal: ptrTo(irls)},
			Medications: []ekbom.Medication{{Name: "pregabalin", Start: ptrTo(ekbom.DateOf(2025, 3, 1))}},
		}
		if infusion {
			data.IronInfusions = []ekbom.Infusion{{Date: ekbom.DateOf(2025, 2, 1), Product: "ferric_carboxymaltose", DoseMg: 1000}}
		}
		if err := e.store.CreateVisit(ctx, &ekbom.Visit{PatientID: p.ID, Date: d, Data: data}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	mk("2025-01-10", 40, 28, false)
	mk("2025-04-10", 160, 12, true)
	mk("2025-07-10", 120, 15, true)
	r := b.get("/patients/" + p.ID)
	svg := regexp.MustCompile(`(?s)<svg id="ferritin-chart".*?</svg>`).FindString(r.body)
	if svg == "" {
		t.Fatal("no svg#ferritin-chart")
	}
	for _, want := range []string{"<title id=\"ferritin-chart-title\">", "<desc id=\"ferritin-chart-desc\">3 ferritin results",
		`class="hline th-low"`, ">75 ng/mL<", `class="hline th-mid"`, ">100 ng/mL<", `class="hline th-high"`, ">300 ng/mL<",
		`class="vmark mark-infusion"`, "2025-02-01: ferric carboxymaltose 1000 mg"} {
		if !strings.Contains(svg, want) {
			t.Errorf("ferritin chart lacks %q", want)
		}
	}
	if n := strings.Count(svg, `class="vmark mark-infusion"`); n != 1 {
		t.Errorf("%d infusion markers, want 1 (the same infusion in two visits)", n)
	}
	tsat := regexp.MustCompile(`(?s)<svg id="tsat-chart".*?</svg>`).FindString(r.body)
	for _, want := range []string{">20 %<", ">45 %<"} {
		if !strings.Contains(tsat, want) {
			t.Errorf("TSAT chart lacks %q", want)
		}
	}
	irls := regexp.MustCompile(`(?s)<svg id="irls-chart".*?</svg>`).FindString(r.body)
	if !strings.Contains(irls, `class="vmark mark-med"`) || !strings.Contains(irls, "start pregabalin") {
		t.Error("IRLS chart lacks the medication marker")
	}
	if !strings.Contains(r.body, `id="timeline"`) {
		t.Error("no #timeline section")
	}
	best := regexp.MustCompile(`(?s)<div id="ferritin-best".*?</div>`).FindString(r.body)
	if !strings.Contains(best, "Lowest IRLS <strong>12</strong>") || !strings.Contains(best, "160 ng/mL") {
		t.Errorf("ferritin at best:\n%s", best)
	}
}

func TestVisitDateInFuture(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("fut", ekbom.RoleClinician)
	p := e.patient("Future", "1960-01-01")
	v := visitValues(b.csrf())
	v.Set("date", ekbom.DateFromTime(e.clock.Now()).AddDays(2).String())
	r := b.post("/patients/"+p.ID+"/visits", v)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "is in the future") {
		t.Errorf("future visit: %d", r.StatusCode)
	}
}
