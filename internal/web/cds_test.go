package web

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ekbom"
	"ekbom/cdshooks"
)

func readRequest(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cdsTestdata, name+".request.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCDSDiscovery(t *testing.T) {
	e := newCDSEnv(t)
	rec := e.call(http.MethodGet, "/cds-services", e.token("/cds-services"), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	validate(t, cdsSchemas(t)["Discovery"], rec.Body.Bytes())
	var d cdshooks.Discovery
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	hooks := map[string]string{}
	for _, s := range d.Services {
		hooks[s.ID] = s.Hook
		if s.Prefetch["patient"] != "Patient/{{context.patientId}}" {
			t.Errorf("%s: patient template %q", s.ID, s.Prefetch["patient"])
		}
		// Integrators are told whom the services answer.
		if !strings.Contains(s.UsageRequirements, "SNOMED CT 32914008") || !strings.Contains(s.UsageRequirements, "ICD-10-CM G25.81") {
			t.Errorf("%s: usageRequirements do not say the services answer only for RLS: %q", s.ID, s.UsageRequirements)
		}
		// Every LOINC code the knowledge base reads is asked for.
		for _, l := range e.srv.kb.Codes.Labs {
			if !strings.Contains(s.Prefetch["labs"], "http://loinc.org|"+l.LOINC) {
				t.Errorf("%s: labs template lacks %s", s.ID, l.LOINC)
			}
		}
	}
	want := map[string]string{
		cdshooks.PatientViewID: "patient-view", cdshooks.OrderSelectID: "order-select", cdshooks.OrderSignID: "order-sign",
	}
	if len(hooks) != 3 {
		t.Errorf("services %v", hooks)
	}
	for id, h := range want {
		if hooks[id] != h {
			t.Errorf("service %s: hook %q, want %q", id, hooks[id], h)
		}
	}
}

func TestCDSPreflight(t *testing.T) {
	e := newCDSEnv(t)
	for _, path := range []string{"/cds-services", "/cds-services/ekbom-rls-patient-view", "/cds-services/ekbom-rls-order-sign/feedback"} {
		req := httptest.NewRequest(http.MethodOptions, path, nil)
		req.Header.Set("Origin", "https://sandbox.cds-hooks.org")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		req.Header.Set("Access-Control-Request-Private-Network", "true")
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		h := rec.Header()
		if rec.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			h.Get("Access-Control-Allow-Private-Network") != "true" {
			t.Errorf("%s: %d %v", path, rec.Code, h)
		}
	}
}

func TestCDSUnknownService(t *testing.T) {
	e := newCDSEnv(t)
	path := "/cds-services/no-such-service"
	rec := e.call(http.MethodPost, path, e.token(path), []byte(`{}`))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "OperationOutcome") {
		t.Errorf("status %d body %s", rec.Code, rec.Body)
	}
	path = "/cds-services/" + cdshooks.PatientViewID
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("hook=patient-view"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+e.token(path))
	rr := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rr, req)
	if rr.Code != http.StatusUnsupportedMediaType {
		t.Errorf("form body: %d", rr.Code)
	}
}

// TestCDSHookMismatch checks a request for another hook is a 400.
func TestCDSHookMismatch(t *testing.T) {
	e := newCDSEnv(t)
	path := "/cds-services/" + cdshooks.OrderSignID
	rec := e.call(http.MethodPost, path, e.token(path), readRequest(t, "patient-view/augmentation"))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"hook"`) {
		t.Errorf("status %d body %s", rec.Code, rec.Body)
	}
}

// TestCDSRetrySameBatch checks that a retried call (same hook instance and
// body) gets the same cards and is stored once.
func TestCDSRetrySameBatch(t *testing.T) {
	e := newCDSEnv(t)
	path := "/cds-services/" + cdshooks.PatientViewID
	body := readRequest(t, "patient-view/augmentation")
	first := e.call(http.MethodPost, path, e.token(path), body)
	second := e.call(http.MethodPost, path, e.token(path), body)
	if first.Code != 200 || second.Code != 200 || first.Body.String() != second.Body.String() {
		t.Fatalf("retry: %d %d, bodies equal %v", first.Code, second.Code, first.Body.String() == second.Body.String())
	}
	audit, _ := e.store.ListAudit(t.Context(), ekbom.AuditFilter{Entity: "cds"})
	if len(audit) != 1 {
		t.Errorf("%d audit entries for a retried call, want 1", len(audit))
	}
}

func TestCDSFeedbackIdempotent(t *testing.T) {
	e := newCDSEnv(t)
	path := "/cds-services/" + cdshooks.OrderSignID + "/feedback"
	body := readRequest(t, "feedback/overridden")
	for i, want := range []string{`"created": 1`, `"duplicates": 1`, `"duplicates": 1`} {
		rec := e.call(http.MethodPost, path, e.token(path), body)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("send %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	list, err := e.store.ListFeedback(t.Context(), cdshooks.OrderSignID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d stored, want 1", len(list))
	}
	f := list[0]
	if f.Outcome != "overridden" || f.OverrideCode != "benefit-outweighs-risk" || f.OverrideSystem != cdshooks.OverrideReasonSystem ||
		f.UserComment != "Discussed with the sleep clinic." || f.Actor != "cds:"+testIssuer ||
		!f.OutcomeAt.Equal(time.Date(2026, time.November, 21, 11, 58, 0, 0, time.UTC)) {
		t.Errorf("stored %+v", f)
	}
	// The same feedback under another service is other feedback.
	other := "/cds-services/" + cdshooks.OrderSelectID + "/feedback"
	if rec := e.call(http.MethodPost, other, e.token(other), body); !strings.Contains(rec.Body.String(), `"created": 1`) {
		t.Errorf("other service: %s", rec.Body)
	}
}

// fhirServer is a FHIR server on loopback that answers prefetch searches
// from a request file's prefetch, and records the tokens it saw.
type fhirServer struct {
	*httptest.Server
	tokens atomic.Value
	calls  atomic.Int32
}

func newFHIRServer(t *testing.T, prefetch map[string]json.RawMessage, delay time.Duration) *fhirServer {
	t.Helper()
	fs := &fhirServer{}
	byType := map[string]json.RawMessage{
		"Patient":                  prefetch["patient"],
		"Observation":              prefetch["labs"],
		"Condition":                prefetch["conditions"],
		"MedicationRequest":        prefetch["medicationrequests"],
		"MedicationStatement":      prefetch["medicationstatements"],
		"MedicationAdministration": prefetch["medicationadministrations"],
		"QuestionnaireResponse":    prefetch["questionnaireresponses"],
	}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.calls.Add(1)
		fs.tokens.Store(r.Header.Get("Authorization"))
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		typ, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/fhir/"), "/")
		body, ok := byType[typ]
		if !ok || string(body) == "null" || body == nil {
			body = json.RawMessage(`{"resourceType":"Bundle","type":"searchset","entry":[]}`)
		}
		if typ == "Observation" && r.URL.Query().Get("patient") == "" {
			http.Error(w, "patient required", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(body)
	}))
	t.Cleanup(fs.Close)
	return fs
}

// withoutPrefetch returns a request body with only the patient prefetched
// and the FHIR server and token set.
func withoutPrefetch(t *testing.T, body []byte, server string) ([]byte, map[string]json.RawMessage) {
	t.Helper()
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	var pf map[string]json.RawMessage
	if err := json.Unmarshal(req["prefetch"], &pf); err != nil || pf["patient"] == nil {
		t.Fatalf("request prefetch without a patient (%v)", err)
	}
	small, _ := json.Marshal(map[string]json.RawMessage{"patient": pf["patient"]})
	req["prefetch"] = small
	req["fhirServer"], _ = json.Marshal(server)
	req["fhirAuthorization"] = json.RawMessage(`{"access_token":"fhir-token-123","token_type":"Bearer","expires_in":300,"scope":"patient/*.read","subject":"ekbom"}`)
	out, _ := json.Marshal(req)
	return out, pf
}

// TestCDSFHIRFallback checks missing prefetch is fetched from the EHR's
// FHIR server with its token, and gives the same cards as prefetched data.
func TestCDSFHIRFallback(t *testing.T) {
	body := readRequest(t, "patient-view/augmentation")
	_, pf := withoutPrefetch(t, body, "")
	fs := newFHIRServer(t, pf, 0)
	small, _ := withoutPrefetch(t, body, fs.URL+"/fhir")

	e := newCDSEnv(t, func(o *CDSOptions) { o.AllowHTTPLoopback = true })
	path := "/cds-services/" + cdshooks.PatientViewID
	rec := e.call(http.MethodPost, path, e.token(path), small)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := fs.tokens.Load(); got != "Bearer fhir-token-123" {
		t.Errorf("FHIR server saw Authorization %q", got)
	}
	if n := fs.calls.Load(); n != 6 {
		t.Errorf("%d FHIR calls, want 6 (every key but the patient)", n)
	}
	if !strings.Contains(rec.Body.String(), "Dopaminergic augmentation on pramipexole") {
		t.Errorf("cards from fetched data lack the augmentation warning:\n%s", rec.Body)
	}
	if strings.Contains(e.logs.String(), "fhir-token-123") {
		t.Error("the FHIR access token was logged")
	}

	// Without AllowHTTPLoopback, plain http is not called: 412.
	e2 := newCDSEnv(t)
	rec = e2.call(http.MethodPost, path, e2.token(path), small)
	if rec.Code != http.StatusPreconditionFailed || !strings.Contains(rec.Body.String(), "https only") {
		t.Errorf("http FHIR server: %d %s", rec.Code, rec.Body)
	}
	// An issuer's fhir_servers list limits the servers called.
	e3 := newCDSEnv(t, func(o *CDSOptions) {
		o.AllowHTTPLoopback = true
		o.Issuers[0].FHIRServers = []string{"https://ehr.test/fhir"}
	})
	rec = e3.call(http.MethodPost, path, e3.token(path), small)
	if rec.Code != http.StatusPreconditionFailed || !strings.Contains(rec.Body.String(), "fhir_servers") {
		t.Errorf("FHIR server not listed for the issuer: %d %s", rec.Code, rec.Body)
	}
}

// TestCDSFHIRFallbackDeadline checks a slow FHIR server gives a 412 within
// the deadline.
func TestCDSFHIRFallbackDeadline(t *testing.T) {
	body := readRequest(t, "patient-view/augmentation")
	_, pf := withoutPrefetch(t, body, "")
	fs := newFHIRServer(t, pf, 5*time.Second)
	small, _ := withoutPrefetch(t, body, fs.URL+"/fhir")
	e := newCDSEnv(t, func(o *CDSOptions) {
		o.AllowHTTPLoopback = true
		o.FHIRTimeout = 300 * time.Millisecond
	})
	path := "/cds-services/" + cdshooks.PatientViewID
	start := time.Now()
	rec := e.call(http.MethodPost, path, e.token(path), small)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: no hard deadline", d)
	}
	if rec.Code != http.StatusPreconditionFailed || !strings.Contains(rec.Body.String(), "deadline") {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestCDSInsecureMode(t *testing.T) {
	e := newCDSEnv(t, func(o *CDSOptions) { o.Insecure = true; o.Issuers = nil; o.PublicURL = "" })
	if !strings.Contains(e.logs.String(), "JWT verification is OFF") {
		t.Error("no warning at start")
	}
	path := "/cds-services/" + cdshooks.PatientViewID
	rec := e.call(http.MethodPost, path, "", readRequest(t, "patient-view/iron-deficient"))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if n := strings.Count(e.logs.String(), "WITHOUT JWT verification"); n != 1 {
		t.Errorf("%d per-call warnings, want 1", n)
	}
	// Without a public URL the plan link uses the host called.
	if !strings.Contains(rec.Body.String(), `"url": "http://example.com/cds-plans/`) {
		t.Errorf("plan link:\n%s", rec.Body)
	}
	audit, _ := e.store.ListAudit(t.Context(), ekbom.AuditFilter{Entity: "cds"})
	if len(audit) != 1 || audit[0].Actor != "cds:insecure" {
		t.Errorf("audit %+v", audit)
	}
}

func TestCDSNoIssuersRefusesAll(t *testing.T) {
	e := newCDSEnv(t, func(o *CDSOptions) { o.Issuers = nil })
	rec := e.call(http.MethodGet, "/cds-services", e.token("/cds-services"), nil)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status %d", rec.Code)
	}
}

// TestCDSPlanLink follows the plan link of a patient-view card: sign-in
// first, then the stored plan, with the view audited.
func TestCDSPlanLink(t *testing.T) {
	e := newCDSEnvAt(t, time.Now)
	path := "/cds-services/" + cdshooks.PatientViewID
	rec := e.call(http.MethodPost, path, e.token(path), readRequest(t, "patient-view/augmentation"))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	link := regexp.MustCompile(`https://ekbom.test(/cds-plans/[0-9a-f]{32})`).FindStringSubmatch(rec.Body.String())
	if link == nil {
		t.Fatalf("no plan link:\n%s", rec.Body)
	}
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(ts.URL + link[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	hash, err := hashWith(testPassword, cheapArgon)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateUser(t.Context(), &ekbom.User{Username: "dana", Role: ekbom.RoleClinician, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	get := func(p string) (int, string) {
		resp, err := c.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	_, page := get("/login")
	csrf := csrfRe.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("no csrf")
	}
	resp, err = c.PostForm(ts.URL+"/login", url.Values{"username": {"dana"}, "password": {testPassword}, "csrf": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, page := get(link[1])
	if code != http.StatusOK {
		t.Fatalf("plan page: %d", code)
	}
	for _, want := range []string{`id="plan-header"`, "Patient/aug-1", "Dopaminergic augmentation on pramipexole", `id="step-alpha2delta"`, e.srv.kb.Meta.Version} {
		if !strings.Contains(page, want) {
			t.Errorf("plan page lacks %q", want)
		}
	}
	audit, _ := e.store.ListAudit(t.Context(), ekbom.AuditFilter{Entity: "cds", Actor: "dana"})
	if len(audit) != 1 || audit[0].Action != "view" {
		t.Errorf("view audit: %+v", audit)
	}
	if code, _ := get("/cds-plans/00000000000000000000000000000000"); code != http.StatusNotFound {
		t.Errorf("unknown plan: %d", code)
	}
}

// TestCDSBodyLimit checks the 4 MiB limit of CDS calls answers with an
// OperationOutcome and CORS headers.
func TestCDSBodyLimit(t *testing.T) {
	e := newCDSEnv(t)
	path := "/cds-services/" + cdshooks.PatientViewID
	big := make([]byte, 5<<20)
	for i := range big {
		big[i] = ' '
	}
	rec := e.call(http.MethodPost, path, e.token(path), big)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "OperationOutcome") ||
		rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("status %d body %.200s", rec.Code, rec.Body)
	}
}
