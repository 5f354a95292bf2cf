package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestSecurity checks, over real HTTP against the running binary, that the
// server refuses what it must: forged forms, anonymous callers, clinicians on
// admin pages, ended sessions, bogus tokens; and that bad input is answered
// field by field.
func TestSecurity(t *testing.T) {
	srv := sharedServer(t)
	id := newRunID() // unique MRNs and token names on the shared database

	admin := newClient(t, srv.URL)
	admin.login(adminUser, adminPassword)
	token := admin.createToken("security-test-" + id)
	api := newAPI(t, srv.URL, token)

	// A patient the tests below can point at.
	r := api.must("POST", "/api/patients", `{"name": "Sec Patient", "mrn": "SEC-`+id+`", "sex": "male", "birth_date": "1960-02-03"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("create patient: %d %s", r.Status, r.Body)
	}
	patient := decodeJSON[struct{ ID string }](t, r.Body)

	// countMRN is how many patients the API finds for an MRN.
	countMRN := func(t *testing.T, mrn string) int {
		t.Helper()
		r := api.must("GET", "/api/patients?q="+url.QueryEscape(mrn), "")
		if r.Status != http.StatusOK {
			t.Fatalf("search: %d %s", r.Status, r.Body)
		}
		return len(decodeJSON[struct{ Patients []struct{ MRN string } }](t, r.Body).Patients)
	}

	t.Run("csrf", func(t *testing.T) {
		good := admin.csrf()
		for _, tc := range []struct {
			name, mrn string
			csrf      []string
		}{
			{"no token", "SEC-CSRF-1-" + id, nil},
			{"empty token", "SEC-CSRF-2-" + id, []string{""}},
			{"wrong token", "SEC-CSRF-3-" + id, []string{strings.Repeat("A", len(good))}},
			{"token of another session", "SEC-CSRF-4-" + id, []string{otherSessionCSRF(t, srv.URL)}},
		} {
			form := url.Values{"name": {"Forged " + tc.mrn}, "mrn": {tc.mrn}, "sex": {"female"}}
			if tc.csrf != nil {
				form["csrf"] = tc.csrf
			}
			r := admin.postForm("/patients", form)
			if r.Status != http.StatusForbidden {
				t.Errorf("%s: POST /patients = %d, want 403", tc.name, r.Status)
			}
			if n := countMRN(t, tc.mrn); n != 0 {
				t.Errorf("%s: the refused form still created %d patient(s)", tc.name, n)
			}
		}
		// Other state-changing forms are guarded too.
		for _, path := range []string{"/patients/" + patient.ID + "/delete", "/account/tokens", "/patients/" + patient.ID + "/visits", "/logout"} {
			if r := admin.postForm(path, url.Values{"csrf": {"nope"}, "name": {"x"}, "confirm": {"yes"}}); r.Status != http.StatusForbidden {
				t.Errorf("POST %s with a wrong CSRF token = %d, want 403", path, r.Status)
			}
		}
		if r := api.must("GET", "/api/patients/"+patient.ID, ""); r.Status != http.StatusOK {
			t.Errorf("the patient is gone after a forged delete: %d", r.Status)
		}
		// The session still works after all that (the forged logout did not
		// end it).
		if r := admin.get("/patients"); r.Status != http.StatusOK {
			t.Errorf("GET /patients after the forged logout = %d", r.Status)
		}

		// The API on a session cookie needs X-CSRF-Token for writes.
		apiMRN := "SEC-CSRF-API-" + id
		body := `{"name": "Forged API", "mrn": "` + apiMRN + `", "sex": "male"}`
		if r := admin.send("POST", "/api/patients", body, nil); r.Status != http.StatusForbidden {
			t.Errorf("session API write without X-CSRF-Token = %d, want 403", r.Status)
		}
		if r := admin.send("POST", "/api/patients", body, map[string]string{"X-CSRF-Token": "wrong"}); r.Status != http.StatusForbidden {
			t.Errorf("session API write with a wrong X-CSRF-Token = %d, want 403", r.Status)
		}
		if n := countMRN(t, apiMRN); n != 0 {
			t.Errorf("a refused API write created %d patient(s)", n)
		}
		if r := admin.send("POST", "/api/patients", body, map[string]string{"X-CSRF-Token": good}); r.Status != http.StatusCreated {
			t.Errorf("session API write with the right X-CSRF-Token = %d, want 201: %s", r.Status, r.Body)
		}
		if n := countMRN(t, apiMRN); n != 1 {
			t.Errorf("after the accepted API write the search finds %d patient(s), want 1", n)
		}

		// The sign-in form has its own double-submit token.
		anon := newClient(t, srv.URL)
		anon.get("/login")
		r := anon.postForm("/login", url.Values{"username": {adminUser}, "password": {adminPassword}, "csrf": {"forged"}})
		if r.Status != http.StatusForbidden {
			t.Errorf("sign in with a wrong login CSRF token = %d, want 403", r.Status)
		}
		if r := anon.get("/patients"); r.Status != http.StatusSeeOther {
			t.Errorf("the refused sign-in still made a session: GET /patients = %d", r.Status)
		}
	})

	t.Run("unauthenticated", func(t *testing.T) {
		anon := newClient(t, srv.URL)
		r := anon.get("/patients")
		if r.Status != http.StatusSeeOther || r.location() != "/login?next=%2Fpatients" {
			t.Errorf("GET /patients = %d → %q, want 303 → /login?next=%%2Fpatients", r.Status, r.location())
		}
		pages := []string{"/", "/patients/new", "/patients/" + patient.ID, "/patients/" + patient.ID + "/visits/new",
			"/tools/taper", "/tools/iron", "/kb", "/kb/drugs", "/account/tokens", "/admin/users", "/audit"}
		for _, p := range pages {
			r := anon.get(p)
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login?next=") {
				t.Errorf("GET %s = %d → %q, want 303 to the sign-in page", p, r.Status, r.location())
			}
			if strings.Contains(r.Body, "Sec Patient") {
				t.Errorf("GET %s leaks patient data to an anonymous caller", p)
			}
		}
		r = anon.postForm("/patients", url.Values{"name": {"Anon"}, "mrn": {"SEC-ANON-" + id}, "sex": {"male"}})
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") {
			t.Errorf("anonymous POST /patients = %d → %q", r.Status, r.location())
		}
		nobody := newAPI(t, srv.URL, "")
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/api/patients", ""},
			{"GET", "/api/patients/" + patient.ID, ""},
			{"POST", "/api/patients", `{"name": "Anon", "mrn": "SEC-ANON-` + id + `", "sex": "male"}`},
			{"GET", "/api/patients/" + patient.ID + "/visits", ""},
			{"POST", "/api/assess", `{"age": 50, "sex": "male"}`},
		} {
			r := nobody.must(c.method, c.path, c.body)
			if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("anonymous %s %s = %d (WWW-Authenticate %q), want 401", c.method, c.path, r.Status, r.Header.Get("WWW-Authenticate"))
			}
			if e := decodeJSON[apiError](t, r.Body); e.Error.Code != "unauthorized" {
				t.Errorf("anonymous %s %s: error code %q", c.method, c.path, e.Error.Code)
			}
		}
		if n := countMRN(t, "SEC-ANON-"+id); n != 0 {
			t.Errorf("anonymous writes created %d patient(s)", n)
		}
		// Public endpoints stay public.
		for _, p := range []string{"/healthz", "/login", "/api/openapi.json", "/static/style.css"} {
			if r := anon.get(p); r.Status != http.StatusOK {
				t.Errorf("GET %s = %d, want 200", p, r.Status)
			}
		}
	})

	t.Run("bogus bearer token", func(t *testing.T) {
		for _, tok := range []string{"ekb_" + strings.Repeat("x", 43), "not-a-token", token + "x", strings.Repeat("a", 300)} {
			r := newAPI(t, srv.URL, tok).must("GET", "/api/patients", "")
			if r.Status != http.StatusUnauthorized {
				t.Errorf("bearer %.12s…: GET /api/patients = %d, want 401", tok, r.Status)
			}
		}
		anon := newClient(t, srv.URL)
		for _, h := range []string{"Basic " + token, "Bearer", "Bearer  "} {
			r := anon.send("GET", "/api/patients", "", map[string]string{"Authorization": h})
			if r.Status != http.StatusUnauthorized {
				t.Errorf("Authorization %.10q…: %d, want 401", h, r.Status)
			}
		}
		// A bad bearer header is not rescued by a valid session cookie.
		r := admin.send("GET", "/api/patients", "", map[string]string{"Authorization": "Bearer ekb_bogus"})
		if r.Status != http.StatusUnauthorized {
			t.Errorf("bogus bearer + valid session = %d, want 401", r.Status)
		}
	})

	t.Run("clinician role", func(t *testing.T) {
		clin := newClient(t, srv.URL)
		clin.login(clinUser, clinPassword)
		csrf := clin.csrf()
		for _, p := range []string{"/admin/users", "/audit", "/audit?entity=patient"} {
			r := clin.get(p)
			if r.Status != http.StatusForbidden {
				t.Errorf("clinician GET %s = %d, want 403", p, r.Status)
			}
			if strings.Contains(r.Body, "user-list") || strings.Contains(r.Body, "audit-list") {
				t.Errorf("clinician GET %s shows the admin table", p)
			}
		}
		r := clin.postForm("/admin/users", url.Values{"csrf": {csrf}, "username": {"mallory-" + id}, "password": {"a long password 123"}, "role": {"admin"}})
		if r.Status != http.StatusForbidden {
			t.Errorf("clinician POST /admin/users = %d, want 403", r.Status)
		}
		if r := admin.get("/admin/users"); r.Status != http.StatusOK || strings.Contains(r.Body, "mallory-"+id) {
			t.Errorf("a clinician created a user (admin page %d)", r.Status)
		}
		r = clin.postForm("/patients/"+patient.ID+"/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
		if r.Status != http.StatusForbidden {
			t.Errorf("clinician deleting a patient = %d, want 403", r.Status)
		}
		if r := api.must("GET", "/api/patients/"+patient.ID, ""); r.Status != http.StatusOK {
			t.Errorf("patient deleted by a clinician: %d", r.Status)
		}
		// The nav does not offer the admin pages.
		if page := clin.get("/patients"); strings.Contains(page.Body, `href="/admin/users"`) || strings.Contains(page.Body, `href="/audit"`) {
			t.Error("the clinician's navigation links to admin pages")
		}
		// But the clinician can do clinical work.
		if r := clin.get("/patients/" + patient.ID); r.Status != http.StatusOK || !strings.Contains(r.Body, "Sec Patient") {
			t.Errorf("clinician GET patient = %d", r.Status)
		}
		// And the admin reaches the admin pages.
		if r := admin.get("/audit"); r.Status != http.StatusOK || !strings.Contains(r.Body, `id="audit-list"`) {
			t.Errorf("admin GET /audit = %d", r.Status)
		}
	})

	t.Run("ended session and deleted token", func(t *testing.T) {
		// A clinician who signs out cannot reuse the old cookie.
		clin := newClient(t, srv.URL)
		clin.login(clinUser, clinPassword)
		u, _ := url.Parse(srv.URL)
		cookies := clin.hc.Jar.Cookies(u)
		ctok := clin.createToken("clin-token-" + id)
		if r := clin.postForm("/logout", url.Values{"csrf": {clin.csrf()}}); r.Status != http.StatusSeeOther || r.location() != "/login" {
			t.Fatalf("logout: %d → %q", r.Status, r.location())
		}
		replay := newClient(t, srv.URL)
		replay.hc.Jar.SetCookies(u, cookies)
		if r := replay.get("/patients"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.location(), "/login") {
			t.Errorf("old session cookie after logout: GET /patients = %d → %q", r.Status, r.location())
		}
		if r := replay.send("GET", "/api/patients", "", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("old session cookie after logout: GET /api/patients = %d, want 401", r.Status)
		}
		// The token outlives the session, until it is deleted.
		capi := newAPI(t, srv.URL, ctok)
		if r := capi.must("GET", "/api/patients/"+patient.ID, ""); r.Status != http.StatusOK {
			t.Fatalf("clinician token: %d %s", r.Status, r.Body)
		}
		clin.login(clinUser, clinPassword)
		page := clin.get("/account/tokens")
		id := between(page.Body, `action="/account/tokens/`, `/delete"`)
		if id == "" {
			t.Fatalf("no delete form for the token:\n%s", page.Body)
		}
		if r := clin.postForm("/account/tokens/"+id+"/delete", url.Values{"csrf": {csrfFrom(t, page)}}); r.Status >= 400 {
			t.Fatalf("delete token: %d", r.Status)
		}
		if r := capi.must("GET", "/api/patients/"+patient.ID, ""); r.Status != http.StatusUnauthorized {
			t.Errorf("deleted token still works: %d", r.Status)
		}
		// A clinician cannot delete another user's token either.
		if r := clin.postForm("/account/tokens/"+firstTokenID(t, admin)+"/delete", url.Values{"csrf": {clin.csrf()}}); r.Status < 400 {
			t.Errorf("clinician deleting the admin's token = %d", r.Status)
		}
		if r := api.must("GET", "/api/patients", ""); r.Status != http.StatusOK {
			t.Errorf("the admin's token stopped working: %d", r.Status)
		}
	})

	t.Run("field-level errors", func(t *testing.T) {
		post := func(body string) apiError {
			t.Helper()
			r := api.must("POST", "/api/patients/"+patient.ID+"/visits", body)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("POST visit %s = %d, want 422: %s", body, r.Status, r.Body)
			}
			return decodeJSON[apiError](t, r.Body)
		}
		paths := func(e apiError) []string {
			var out []string
			for _, p := range e.Error.Problems {
				out = append(out, p.Path)
				if p.Message == "" {
					t.Errorf("problem %s has no message", p.Path)
				}
			}
			return out
		}
		e := post(`{"date": "2026-10-01", "data": {
			"labs": [
				{"test": "ferritin", "value": 45, "unit": "kg", "date": "2026-09-20"},
				{"test": "tsat", "value": 140, "unit": "%", "date": "2026-09-20"}
			],
			"symptoms": {"irls_total": 55}}}`)
		got := paths(e)
		for _, want := range []string{"data.labs[0].unit", "data.labs[1].value", "data.symptoms.irls_total"} {
			if !slices.Contains(got, want) {
				t.Errorf("problems %v lack %s", got, want)
			}
		}
		if e.Error.Code != "invalid" {
			t.Errorf("code %q", e.Error.Code)
		}
		e = post(`{"date": "2099-01-01", "data": {"symptoms": {"irls_total": 20}}}`)
		if got := paths(e); !slices.Contains(got, "date") {
			t.Errorf("future date: problems %v lack date", got)
		}
		e = post(`{"data": {"symptoms": {"irls_total": 20}}}`)
		if got := paths(e); !slices.Contains(got, "date") {
			t.Errorf("no date: problems %v lack date", got)
		}
		// Wrong shapes are 400, still naming the field.
		r := api.must("POST", "/api/patients/"+patient.ID+"/visits", `{"date": "2026-10-01", "data": {"bogus": 1}}`)
		if r.Status != http.StatusBadRequest || !slices.Contains(paths(decodeJSON[apiError](t, r.Body)), "data.bogus") {
			t.Errorf("unknown field: %d %s", r.Status, r.Body)
		}
		r = api.must("POST", "/api/patients/"+patient.ID+"/visits", `{"date": "2026-10-01", "data": {"labs": "ferritin"}}`)
		if r.Status != http.StatusBadRequest {
			t.Errorf("labs as a string: %d %s", r.Status, r.Body)
		}
		r = api.must("POST", "/api/patients/"+patient.ID+"/visits", `{"date": "2026-10-01", "data": `)
		if r.Status != http.StatusBadRequest {
			t.Errorf("truncated JSON: %d %s", r.Status, r.Body)
		}
		// A patient with several problems gets each one.
		r = api.must("POST", "/api/patients", `{"name": "", "sex": "robot", "birth_date": "2099-01-01"}`)
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("bad patient: %d %s", r.Status, r.Body)
		}
		got = paths(decodeJSON[apiError](t, r.Body))
		for _, want := range []string{"name", "sex", "birth_date"} {
			if !slices.Contains(got, want) {
				t.Errorf("bad patient: problems %v lack %s", got, want)
			}
		}
		// The HTML form puts the message beside the input.
		page := admin.postForm("/patients", url.Values{"csrf": {admin.csrf()}, "name": {""}, "mrn": {"SEC-FORM-" + id}, "birth_date": {"1960-13-45"}})
		if page.Status != http.StatusUnprocessableEntity {
			t.Fatalf("bad patient form: %d", page.Status)
		}
		for _, name := range []string{"name", "birth_date", "sex"} {
			if !fieldHasError(page.Body, name) {
				t.Errorf("bad patient form: no .field-error beside %s", name)
			}
		}
		if !strings.Contains(page.Body, `id="error-summary"`) {
			t.Error("bad patient form: no error summary")
		}
		if n := countMRN(t, "SEC-FORM-"+id); n != 0 {
			t.Errorf("the rejected form created %d patient(s)", n)
		}
	})

	t.Run("headers", func(t *testing.T) {
		r := admin.get("/patients/" + patient.ID)
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-store",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP %q", csp)
		}
	})
}

// otherSessionCSRF signs in as the clinician in a separate client and
// returns that session's CSRF token, which must not work for the admin.
func otherSessionCSRF(t *testing.T, base string) string {
	t.Helper()
	c := newClient(t, base)
	c.login(clinUser, clinPassword)
	return c.csrf()
}

// firstTokenID returns the id of one of c's API tokens.
func firstTokenID(t *testing.T, c *webClient) string {
	t.Helper()
	id := between(c.get("/account/tokens").Body, `action="/account/tokens/`, `/delete"`)
	if id == "" {
		t.Fatal("no token on the tokens page")
	}
	return id
}

// between returns the text between the first a and the next b in s.
func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(rest, b)
	if !ok {
		return ""
	}
	return v
}

// fieldHasError reports whether the form control named name is followed by
// a .field-error before the next control: the message sits beside it.
func fieldHasError(page, name string) bool {
	// The last control of that name: radio buttons share one message after
	// the group.
	i := strings.LastIndex(page, fmt.Sprintf(`name="%s"`, name))
	if i < 0 {
		return false
	}
	rest := page[i:]
	end := len(rest)
	if j := strings.Index(rest[1:], `<label`); j >= 0 {
		end = j + 1
	}
	return strings.Contains(rest[:end], `class="field-error"`)
}
