package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"ekbom"
	"ekbom/intake"
	"ekbom/schema"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

type apiError struct {
	Error struct {
		Code     string          `json:"code"`
		Message  string          `json:"message"`
		Problems []ekbom.Problem `json:"problems"`
	} `json:"error"`
}

func planSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Plan()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("plan.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAPIAssessExamples posts every bundled example, as YAML and as JSON, and
// checks the plan is exactly what the engine gives and valid against the
// published plan schema.
func TestAPIAssessExamples(t *testing.T) {
	e := newEnv(t)
	tok := e.token("api", ekbom.RoleClinician)
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	ps := planSchema(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := intake.Read(data, "yaml", e.srv.kb, intake.Options{Today: ekbom.DateOf(2026, 11, 21)})
			if err != nil {
				t.Fatal(err)
			}
			want, err := e.srv.engine.Evaluate(p)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := intake.Decode(data, "yaml")
			asJSON, _ := json.Marshal(raw)
			for _, c := range []struct{ ct, body string }{{"application/yaml", string(data)}, {"application/json; charset=utf-8", string(asJSON)}} {
				r := e.api(tok, "POST", "/api/assess", c.ct, c.body)
				if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("%s: status %d\n%s", c.ct, r.StatusCode, r.body)
				}
				got := decode[ekbom.Plan](t, r.body)
				if diff := cmp.Diff(want, &got, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
					t.Errorf("%s: plan differs from the engine's (-want +got):\n%s", c.ct, diff)
				}
				v, err := jsonschema.UnmarshalJSON(strings.NewReader(r.body))
				if err != nil {
					t.Fatal(err)
				}
				if err := ps.Validate(v); err != nil {
					t.Errorf("%s: plan does not match the published schema: %v", c.ct, err)
				}
			}
		})
	}
}

func TestAPIAssessAsOf(t *testing.T) {
	e := newEnv(t)
	tok := e.token("api", ekbom.RoleClinician)
	body := `{"age": 50, "sex": "male", "labs": [{"test": "ferritin", "value": 50, "unit": "ng/mL", "date": "2024-01-01"}]}`
	r := e.api(tok, "POST", "/api/assess?as_of=2026-02-01", "application/json", body)
	if r.StatusCode != 200 || decode[ekbom.Plan](t, r.body).AsOf.String() != "2026-02-01" {
		t.Fatalf("as_of: %d %s", r.StatusCode, r.body)
	}
	// Without as_of anywhere, today's date (the server clock) is used.
	r = e.api(tok, "POST", "/api/assess", "application/json", body)
	if got := decode[ekbom.Plan](t, r.body).AsOf; got != ekbom.DateFromTime(e.clock.Now()) {
		t.Errorf("default as_of %s", got)
	}
	if r := e.api(tok, "POST", "/api/assess?as_of=yesterday", "application/json", body); r.StatusCode != http.StatusBadRequest {
		t.Errorf("bad as_of: %d", r.StatusCode)
	}
}

func TestAPIAssessErrors(t *testing.T) {
	e := newEnv(t)
	tok := e.token("api", ekbom.RoleClinician)
	tests := []struct {
		name, ct, body string
		status         int
		code           string
		paths          []string
	}{
		{"bad unit and missing sex", "application/json", `{"age": 50, "as_of": "2026-01-01", "labs": [{"test": "ferritin", "value": 50, "unit": "mmol/L", "date": "2026-01-01"}]}`,
			422, "invalid", []string{"labs[0].unit", "sex"}},
		{"unknown field", "application/json", `{"age": 50, "sex": "male", "ferritn": 3}`, 400, "invalid", []string{"ferritn"}},
		{"wrong type", "application/yaml", "age: fifty\nsex: male\n", 400, "invalid", []string{"age"}},
		{"syntax", "application/json", `{"age": 50,`, 400, "invalid", nil},
		{"under 18", "application/json", `{"age": 12, "sex": "male", "as_of": "2026-01-01"}`, 422, "out_of_scope", []string{"age"}},
		{"impossible TSAT", "application/json", `{"age": 40, "sex": "female", "as_of": "2026-01-01", "labs": [{"test": "tsat", "value": 140, "unit": "%", "date": "2026-01-01"}]}`,
			422, "invalid", []string{"labs[0].value"}},
		{"wrong content type", "text/plain", `{}`, 415, "unsupported_media_type", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.api(tok, "POST", "/api/assess", tc.ct, tc.body)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tc.status, r.body)
			}
			ae := decode[apiError](t, r.body)
			if ae.Error.Code != tc.code || ae.Error.Message == "" {
				t.Errorf("error %+v", ae.Error)
			}
			var paths []string
			for _, p := range ae.Error.Problems {
				paths = append(paths, p.Path)
				if p.Message == "" {
					t.Errorf("problem at %s has no message", p.Path)
				}
			}
			for _, want := range tc.paths {
				if !contains(paths, want) {
					t.Errorf("problems %v lack path %s", paths, want)
				}
			}
		})
	}
}

func TestAPICRUD(t *testing.T) {
	e := newEnv(t)
	tok := e.token("api", ekbom.RoleClinician)
	r := e.api(tok, "POST", "/api/patients", "application/json", `{"name": "Ann API", "mrn": "M1", "birth_date": "1970-06-15", "sex": "female"}`)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	p := decode[ekbom.PatientRecord](t, r.body)
	if r.Header.Get("Location") != "/api/patients/"+p.ID || p.Version != 1 {
		t.Errorf("created %+v at %s", p, r.Header.Get("Location"))
	}
	if r := e.api(tok, "POST", "/api/patients", "application/json", `{"name": "Dup", "mrn": "M1", "sex": "male"}`); r.StatusCode != http.StatusConflict {
		t.Errorf("duplicate MRN: %d", r.StatusCode)
	}
	if r := e.api(tok, "POST", "/api/patients", "application/json", `{"name": "", "sex": "other"}`); r.StatusCode != 422 || !strings.Contains(r.body, `"path": "sex"`) {
		t.Errorf("invalid patient: %d %s", r.StatusCode, r.body)
	}
	// Update with the version read, then with the stale one.
	p.Name = "Ann Updated"
	body, _ := json.Marshal(p) // a GET body sent back, read-only fields included
	if r := e.api(tok, "PUT", "/api/patients/"+p.ID, "application/json", string(body)); r.StatusCode != 200 || decode[ekbom.PatientRecord](t, r.body).Version != 2 {
		t.Fatalf("update: %d %s", r.StatusCode, r.body)
	}
	if r := e.api(tok, "PUT", "/api/patients/"+p.ID, "application/json", string(body)); r.StatusCode != http.StatusConflict {
		t.Errorf("stale update: %d %s", r.StatusCode, r.body)
	}
	if r := e.api(tok, "GET", "/api/patients/"+p.ID, "", ""); r.StatusCode != 200 || !strings.Contains(r.body, "Ann Updated") {
		t.Errorf("get: %d", r.StatusCode)
	}
	if r := e.api(tok, "GET", "/api/patients?q=ann", "", ""); !strings.Contains(r.body, p.ID) {
		t.Errorf("search: %s", r.body)
	}

	// Visits: age comes from the birth date, sex from the record.
	visit := `{"date": "2025-11-21", "data": {"labs": [{"test": "ferritin", "value": 45, "unit": "ng/mL", "date": "2025-11-01"}], "symptoms": {"irls_total": 24}}}`
	r = e.api(tok, "POST", "/api/patients/"+p.ID+"/visits", "application/json", visit)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create visit: %d %s", r.StatusCode, r.body)
	}
	v := decode[ekbom.Visit](t, r.body)
	if *v.Data.Age != 55 || v.Data.Sex != ekbom.Female || v.Data.AsOf.String() != "2025-11-21" || v.Version != 1 {
		t.Errorf("visit data %+v", v.Data)
	}
	bad := `{"date": "2025-11-21", "data": {"labs": [{"test": "ferritin", "value": 45, "unit": "kg", "date": "2025-11-01"}], "bogus": 1}}`
	r = e.api(tok, "POST", "/api/patients/"+p.ID+"/visits", "application/json", bad)
	if r.StatusCode != 400 || !strings.Contains(r.body, `"path": "data.bogus"`) {
		t.Errorf("bad visit shape: %d %s", r.StatusCode, r.body)
	}
	bad = `{"date": "2025-11-21", "data": {"labs": [{"test": "ferritin", "value": 45, "unit": "kg", "date": "2025-11-01"}]}}`
	r = e.api(tok, "POST", "/api/patients/"+p.ID+"/visits", "application/json", bad)
	if r.StatusCode != 422 || !strings.Contains(r.body, `"path": "data.labs[0].unit"`) {
		t.Errorf("bad visit content: %d %s", r.StatusCode, r.body)
	}
	v.Data.Symptoms.IRLSTotal = ptrTo(20)
	vb, _ := json.Marshal(v)
	if r := e.api(tok, "PUT", "/api/visits/"+v.ID, "application/json", string(vb)); r.StatusCode != 200 {
		t.Fatalf("update visit: %d %s", r.StatusCode, r.body)
	}
	if r := e.api(tok, "PUT", "/api/visits/"+v.ID, "application/json", string(vb)); r.StatusCode != http.StatusConflict {
		t.Errorf("stale visit update: %d", r.StatusCode)
	}
	if r := e.api(tok, "GET", "/api/patients/"+p.ID+"/visits", "", ""); !strings.Contains(r.body, v.ID) {
		t.Errorf("visit list %s", r.body)
	}

	// Assess the stored visit.
	r = e.api(tok, "POST", "/api/visits/"+v.ID+"/assess", "", "")
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("assess: %d %s", r.StatusCode, r.body)
	}
	a := decode[ekbom.Assessment](t, r.body)
	var plan ekbom.Plan
	if err := json.Unmarshal(a.Plan, &plan); err != nil || plan.Severity.IRLS == nil || *plan.Severity.IRLS != 20 || a.VisitID != v.ID {
		t.Errorf("assessment %+v %v", a, err)
	}
	if r := e.api(tok, "GET", "/api/assessments/"+a.ID, "", ""); r.StatusCode != 200 {
		t.Errorf("get assessment: %d", r.StatusCode)
	}
	if r := e.api(tok, "GET", "/api/patients/"+p.ID+"/assessments", "", ""); !strings.Contains(r.body, a.ID) {
		t.Errorf("assessment list: %s", r.body)
	}

	// Deletes.
	if r := e.api(tok, "DELETE", "/api/visits/"+v.ID, "", ""); r.StatusCode != http.StatusNoContent {
		t.Errorf("delete visit: %d", r.StatusCode)
	}
	if r := e.api(tok, "GET", "/api/visits/"+v.ID, "", ""); r.StatusCode != 404 || !strings.Contains(r.body, `"code": "not_found"`) {
		t.Errorf("deleted visit: %d", r.StatusCode)
	}
	if r := e.api(tok, "DELETE", "/api/patients/"+p.ID, "", ""); r.StatusCode != http.StatusNoContent {
		t.Errorf("delete patient: %d", r.StatusCode)
	}
	if r := e.api(tok, "GET", "/api/patients/"+p.ID, "", ""); r.StatusCode != 404 {
		t.Errorf("deleted patient: %d", r.StatusCode)
	}
	if r := e.api(tok, "GET", "/api/nothing", "", ""); r.StatusCode != 404 || !strings.Contains(r.body, "not_found") {
		t.Errorf("unknown API route: %d %s", r.StatusCode, r.body)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("big", ekbom.RoleClinician)
	tok := e.token("bigapi", ekbom.RoleClinician)
	form := "csrf=" + b.csrf() + "&name=" + strings.Repeat("x", formBodyLimit)
	req, _ := http.NewRequest("POST", e.ts.URL+"/patients", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := b.do(req); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("large form: %d", r.StatusCode)
	}
	big := `{"age": 50, "sex": "male", "id": "` + strings.Repeat("x", apiBodyLimit) + `"}`
	r := e.api(tok, "POST", "/api/assess", "application/json", big)
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "too_large") {
		t.Errorf("large API body: %d %s", r.StatusCode, r.body)
	}
	// A body without Content-Length is cut off while reading.
	req, _ = http.NewRequest("POST", e.ts.URL+"/api/assess", &slowReader{n: apiBodyLimit + 10})
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked large body: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	ps, _ := e.store.ListPatients(context.Background(), ekbom.PatientFilter{})
	if len(ps) != 0 {
		t.Error("a too-large request wrote a patient")
	}
}

type slowReader struct{ n int }

func (s *slowReader) Read(p []byte) (int, error) {
	if s.n <= 0 {
		return 0, ioEOF
	}
	n := min(len(p), s.n)
	for i := range p[:n] {
		p[i] = ' '
	}
	s.n -= n
	return n, nil
}

// TestOpenAPICoversRoutes checks every /api route registered in the mux is
// in the OpenAPI document, and every operation there is registered.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r := e.api("", "GET", "/api/openapi.json", "", "")
	if r.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", r.StatusCode)
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi.json: %v %q", err, doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	registered := append([]string(nil), e.srv.apiRoutes...)
	sort.Strings(documented)
	sort.Strings(registered)
	if diff := cmp.Diff(registered, documented); diff != "" {
		t.Errorf("API routes (-registered +documented):\n%s", diff)
	}
	if len(registered) < 15 {
		t.Errorf("only %d API routes registered", len(registered))
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("sec", ekbom.RoleClinician)
	anon := e.browser()
	reqs := []func() *response{
		func() *response { return anon.get("/login") },
		func() *response { return anon.get("/patients") },
		func() *response { return anon.get("/healthz") },
		func() *response { return anon.get("/metrics") },
		func() *response { return anon.get("/static/style.css") },
		func() *response { return anon.get("/static/app.js") },
		func() *response { return anon.get("/api/openapi.json") },
		func() *response { return e.api("", "GET", "/api/patients", "", "") },
		func() *response { return b.get("/patients") },
		func() *response { return b.get("/no/such/page") },
		func() *response { return b.get("/patients/missing") },
		func() *response { return b.get("/kb/drugs/pramipexole") },
		func() *response { return b.post("/patients", nil) },
	}
	for i, do := range reqs {
		r := do()
		h := r.Header
		checks := map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
		}
		for k, want := range checks {
			if got := h.Get(k); got != want {
				t.Errorf("request %d (%s %d): %s = %q, want %q", i, r.Request.URL.Path, r.StatusCode, k, got, want)
			}
		}
		if h.Get("X-Request-ID") == "" {
			t.Errorf("request %d: no X-Request-ID", i)
		}
		static := strings.HasPrefix(r.Request.URL.Path, "/static/")
		if !static && h.Get("Cache-Control") != "no-store" {
			t.Errorf("request %d (%s): Cache-Control %q", i, r.Request.URL.Path, h.Get("Cache-Control"))
		}
	}
	// The policy allows no inline script or style, so pages must have none.
	page := b.get("/patients")
	for _, bad := range []string{"<script>", " style=", " onclick=", "<style"} {
		if strings.Contains(page.body, bad) {
			t.Errorf("page has inline %q", bad)
		}
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	r := e.api("", "GET", "/healthz", "", "")
	if r.StatusCode != 200 || strings.TrimSpace(r.body) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", r.StatusCode, r.body)
	}
	e.store.Close()
	r = e.api("", "GET", "/healthz", "", "")
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz with a closed store: %d %s", r.StatusCode, r.body)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	tok := e.token("met", ekbom.RoleClinician)
	e.browser().login("met", "wrong password!!")
	e.api(tok, "POST", "/api/assess", "application/json", `{"age": 50, "sex": "male", "as_of": "2026-01-01"}`)
	r := e.api("", "GET", "/metrics", "", "")
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`http_requests_total{route="/api/assess",method="POST",code="200"} 1`,
		`http_requests_total{route="/login",method="POST",code="401"} 1`,
		`http_request_duration_seconds_bucket{route="/api/assess",le="+Inf"} 1`,
		`http_request_duration_seconds_count{route="/api/assess"} 1`,
		"# TYPE http_request_duration_seconds histogram",
		"ekbom_assessments_total 1",
		"ekbom_login_failures_total 1",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestAccessLogHoldsNoPatientData checks the log has the route pattern, status
// and request id, and never a name, a search term or an id from a path.
func TestAccessLogHoldsNoPatientData(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("logger", ekbom.RoleClinician)
	p := e.patient("Zebedee Quux", "1960-01-01")
	b.get("/patients?q=Zebedee")
	b.get("/patients/" + p.ID)
	logs := e.logs.String()
	for _, bad := range []string{"Zebedee", "Quux", p.ID, "q="} {
		if strings.Contains(logs, bad) {
			t.Errorf("log holds %q", bad)
		}
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["route"] == "/patients/{id}" && rec["status"] == float64(200) && rec["request_id"] != "" && rec["duration_ms"] != nil {
			found = true
		}
	}
	if !found {
		t.Errorf("no access log line for /patients/{id}:\n%s", logs)
	}
}

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t)
	e.srv.handle("GET /boom", func(http.ResponseWriter, *http.Request) { panic("secret patient data") })
	r := e.api("", "GET", "/boom", "", "")
	if r.StatusCode != 500 || r.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("panic: %d", r.StatusCode)
	}
	if strings.Contains(e.logs.String(), "secret patient data") || !strings.Contains(e.logs.String(), `"msg":"panic"`) {
		t.Errorf("panic log:\n%s", e.logs.String())
	}
	if !strings.Contains(e.api("", "GET", "/metrics", "", "").body, "ekbom_panics_total 1") {
		t.Error("panic not counted")
	}
}

// TestAuditViews checks that views and logins are audited with references
// only, never clinical text or names.
func TestAuditViews(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("aud", ekbom.RoleAdmin)
	csrf := b.csrf()
	pid := idFrom(t, b.post("/patients", map[string][]string{"csrf": {csrf}, "name": {"Private Person"}, "sex": {"female"}, "birth_date": {"1960-01-01"}}), "patients")
	vid := idFrom(t, b.post("/patients/"+pid+"/visits", visitValues(csrf)), "visits")
	aid := idFrom(t, b.post("/visits/"+vid+"/assess", map[string][]string{"csrf": {csrf}}), "assessments")
	b.get("/patients/" + pid)
	b.get("/visits/" + vid)
	b.get("/assessments/" + aid)
	b.get("/assessments/" + aid + "/handout")
	e.browser().login("aud", "bad password!!")

	list, err := e.store.ListAudit(context.Background(), ekbom.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range list {
		seen[a.Action+" "+a.Entity+" "+a.EntityID] = true
		for _, bad := range []string{"Private", "Person", "ferritin", "pramipexole", "ng/mL", "depression"} {
			if strings.Contains(a.Detail, bad) || strings.Contains(a.Actor, bad) {
				t.Errorf("audit entry holds %q: %+v", bad, a)
			}
		}
		if a.At.IsZero() || a.Actor == "" {
			t.Errorf("incomplete audit entry %+v", a)
		}
	}
	for _, want := range []string{"view patient " + pid, "view visit " + vid, "view assessment " + aid, "create patient " + pid,
		"create visit " + vid, "create assessment " + aid} {
		if !seen[want] {
			t.Errorf("no audit entry %q", want)
		}
	}
	u, _ := e.store.GetUserByUsername(context.Background(), "aud")
	if !seen["login user "+u.ID] || !seen["login_failed user "+u.ID] {
		t.Error("logins are not audited")
	}
	// The audit page filters by entity.
	r := b.get("/audit?entity=assessment")
	if !strings.Contains(r.body, aid) || strings.Contains(r.body, ">login<") {
		t.Error("audit filter by entity does not work")
	}
}

func TestTools(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("tool", ekbom.RoleClinician)
	r := b.get("/tools/taper?drug=pramipexole&dose=0.75&start=2026-12-01&step=0.125&days=14")
	if r.StatusCode != 200 || !strings.Contains(r.body, `id="taper-schedule"`) || !strings.Contains(r.body, "Never stop pramipexole abruptly") ||
		!strings.Contains(r.body, "<td>2026-12-01</td><td>0.625 mg</td>") || !strings.Contains(r.body, "stop pramipexole") {
		t.Errorf("taper: %d\n%s", r.StatusCode, r.body)
	}
	if r := b.get("/tools/taper?drug=gabapentin&dose=900"); r.StatusCode != 422 {
		t.Errorf("taper of a non-dopaminergic drug: %d", r.StatusCode)
	}
	r = b.get("/tools/iron?ferritin=40&target=100&dose_mg=1000")
	if !strings.Contains(r.body, "500–600 mg") || !strings.Contains(r.body, "100–120 ng/mL") || !strings.Contains(r.body, "informational estimate") || !strings.Contains(r.body, "C17") {
		t.Errorf("iron estimate:\n%s", r.body)
	}
	for _, q := range []string{"ferritin=300&target=400", "ferritin=50&target=100&tsat=46"} {
		r := b.get("/tools/iron?" + q)
		if !strings.Contains(r.body, `id="iron-refused"`) || strings.Contains(r.body, `id="iron-result"`) {
			t.Errorf("iron %s: not refused", q)
		}
	}
}

func TestKBPages(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("kb", ekbom.RoleClinician)
	r := b.get("/kb/sources")
	for _, s := range e.srv.kb.SourceList {
		if !strings.Contains(r.body, `id="`+s.ID+`"`) {
			t.Errorf("no anchor for source %s", s.ID)
		}
	}
	r = b.get("/kb/recommendations")
	if !strings.Contains(r.body, "grade unverified") && !strings.Contains(r.body, "<strong>no</strong>") {
		t.Error("recommendations lack verified flags")
	}
	if r := b.get("/kb/drugs/no-such-drug"); r.StatusCode != 404 {
		t.Errorf("unknown drug: %d", r.StatusCode)
	}
	if r := b.get("/kb/drugs/Mirapex"); r.StatusCode != 200 || !strings.Contains(r.body, "pramipexole") {
		t.Errorf("brand lookup: %d", r.StatusCode)
	}
}

func TestRequestTimeout(t *testing.T) {
	st := newEnv(t).store
	srv, err := New(Options{Store: st, Engine: sharedEngine(t), RequestTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	srv.handle("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		srv.serverError(w, r, r.Context().Err())
	})
	rec := httptestRecorder()
	srv.Handler().ServeHTTP(rec, httptestRequest("GET", "/slow"))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("timed-out request: %d", rec.Code)
	}
}
