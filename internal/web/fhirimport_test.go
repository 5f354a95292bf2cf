package web

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"ekbom"
)

// femaleBundle returns a FHIR twin of a vignette whose patient is female.
func femaleBundle(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../testdata/fhir/01-ferritin-45-oral-iron-first.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"gender": "female"`) {
		t.Fatal("fixture is not a female patient")
	}
	return string(data)
}

func TestAPIVisitImportFHIR(t *testing.T) {
	e := newEnv(t)
	tok := e.token("clin", ekbom.RoleClinician)
	rec := e.patient("Bundle Patient", "1970-01-01")
	r := e.api(tok, "POST", "/api/patients/"+rec.ID+"/visits/fhir?date=2026-11-21", "application/fhir+json", femaleBundle(t))
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("import: %d %s", r.StatusCode, r.body)
	}
	got := decode[struct {
		Visit ekbom.Visit `json:"visit"`
		Notes []struct {
			Resource, Message string
		} `json:"notes"`
	}](t, r.body)
	if got.Visit.Date.String() != "2026-11-21" || len(got.Visit.Data.Labs) == 0 || got.Visit.Data.Age == nil {
		t.Errorf("imported visit lacks date, labs or age: %+v", got.Visit)
	}
	if got.Notes == nil {
		t.Error("notes must be a list, even when empty")
	}
	// The imported visit is an ordinary visit: it can be assessed.
	a := e.api(tok, "POST", "/api/visits/"+got.Visit.ID+"/assess", "", "")
	if a.StatusCode != http.StatusCreated && a.StatusCode != http.StatusOK {
		t.Fatalf("assess imported visit: %d %s", a.StatusCode, a.body)
	}
	if !strings.Contains(a.body, `"ferrous_sulfate"`) {
		t.Errorf("plan of the imported visit lacks the oral-iron start:\n%.400s", a.body)
	}

	for _, tc := range []struct {
		name, body, date string
		status           int
		path             string
	}{
		{"not json", "{nope", "2026-11-21", http.StatusBadRequest, "bundle"},
		{"wrong resource type", `{"resourceType":"Patient","id":"x","gender":"female","birthDate":"1970-01-01"}`, "2026-11-21", http.StatusUnprocessableEntity, "bundle"},
		{"other sex", strings.Replace(femaleBundle(t), `"gender": "female"`, `"gender": "male"`, 1), "2026-11-21", http.StatusUnprocessableEntity, "bundle.Patient.gender"},
		{"future date", femaleBundle(t), "2999-01-01", http.StatusUnprocessableEntity, "date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.api(tok, "POST", "/api/patients/"+rec.ID+"/visits/fhir?date="+tc.date, "application/fhir+json", tc.body)
			if r.StatusCode != tc.status || !strings.Contains(r.body, `"path": "`+tc.path) {
				t.Errorf("%d %s, want %d with a problem at %s", r.StatusCode, r.body, tc.status, tc.path)
			}
		})
	}
	if r := e.api("", "POST", "/api/patients/"+rec.ID+"/visits/fhir", "application/fhir+json", femaleBundle(t)); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous import: %d, want 401", r.StatusCode)
	}
}

func TestUIVisitImportFHIR(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("clin", ekbom.RoleClinician)
	rec := e.patient("Bundle Patient", "1970-01-01")
	if r := b.get("/patients/" + rec.ID + "/visits/import"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, `id="import-form"`) {
		t.Fatalf("import page: %d", r.StatusCode)
	}
	form := url.Values{"date": {"2026-11-21"}, "bundle": {femaleBundle(t)}}
	if r := b.post("/patients/"+rec.ID+"/visits/import", form); r.StatusCode != http.StatusForbidden {
		t.Errorf("import without CSRF: %d, want 403", r.StatusCode)
	}
	form.Set("csrf", b.csrf())
	r := b.post("/patients/"+rec.ID+"/visits/import", form)
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `id="import-result"`) || !strings.Contains(r.body, `id="imported-visit"`) {
		t.Fatalf("import: %d\n%.600s", r.StatusCode, r.body)
	}
	form.Set("bundle", "{nope")
	if r := b.post("/patients/"+rec.ID+"/visits/import", form); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="error-summary"`) {
		t.Errorf("bad bundle: %d", r.StatusCode)
	}
}

func TestQuestionnaireServed(t *testing.T) {
	e := newEnv(t)
	r := e.api("", "GET", "/fhir/Questionnaire/ekbom-rls", "", "")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/fhir+json" ||
		!strings.Contains(r.body, `"resourceType": "Questionnaire"`) || !strings.Contains(r.body, "irls-10") {
		t.Errorf("questionnaire: %d %s %.200s", r.StatusCode, r.Header.Get("Content-Type"), r.body)
	}
}
