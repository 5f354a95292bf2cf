package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"ekbom"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.user("alice", ekbom.RoleClinician)
	tests := []struct {
		name, user, pass string
		status           int
	}{
		{"success", "alice", testPassword, http.StatusSeeOther},
		{"username is case-insensitive", " Alice ", testPassword, http.StatusSeeOther},
		{"wrong password", "alice", "wrong password!!", http.StatusUnauthorized},
		{"unknown user", "mallory", testPassword, http.StatusUnauthorized},
		{"empty", "", "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			r := b.login(tc.user, tc.pass)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tc.status, r.body)
			}
			if tc.status == http.StatusSeeOther {
				if loc := r.Header.Get("Location"); loc != "/patients" {
					t.Errorf("redirect to %q", loc)
				}
				var c *http.Cookie
				for _, x := range r.Cookies() {
					if x.Name == sessionCookie {
						c = x
					}
				}
				if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || len(c.Value) != 43 {
					t.Fatalf("session cookie: %+v", c)
				}
				// Only the hash is stored.
				if _, err := e.store.GetSession(context.Background(), c.Value); err == nil {
					t.Error("the raw cookie value finds a session: it must be stored hashed")
				}
				if _, err := e.store.GetSession(context.Background(), tokenHash(c.Value)); err != nil {
					t.Errorf("session by hash: %v", err)
				}
				if r := b.get("/patients"); r.StatusCode != 200 {
					t.Errorf("signed-in page: %d", r.StatusCode)
				}
			} else if !strings.Contains(r.body, "Wrong username or password.") {
				t.Error("no generic failure message")
			}
		})
	}
}

func TestLoginNextIsLocalOnly(t *testing.T) {
	tests := map[string]string{
		"/patients/abc?x=1":     "/patients/abc?x=1",
		"https://evil.example/": "/patients",
		"//evil.example/":       "/patients",
		"/\\evil.example":       "/patients",
		"":                      "/patients",
		"/login?next=/x":        "/patients",
		"javascript:alert(1)":   "/patients",
		"/kb/sources#aasm2025":  "/kb/sources#aasm2025",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	e.user("bob", ekbom.RoleClinician)
	b := e.browser()
	for i := 0; i < throttleFree; i++ {
		if r := b.login("bob", "not the password"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, r.StatusCode)
		}
	}
	// Now even the right password is refused until the wait is over.
	r := b.login("bob", testPassword)
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("throttled login: status %d", r.StatusCode)
	}
	// Other usernames are not affected.
	e.user("carl", ekbom.RoleClinician)
	if r := e.browser().login("carl", testPassword); r.StatusCode != http.StatusSeeOther {
		t.Errorf("other user: %d", r.StatusCode)
	}
	e.clock.Advance(2 * time.Second)
	if r := b.login("bob", testPassword); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the wait: status %d", r.StatusCode)
	}
	// Success resets the count.
	if w := e.srv.throttle.wait("bob"); w != 0 {
		t.Errorf("wait after success: %v", w)
	}
	audit, _ := e.store.ListAudit(context.Background(), ekbom.AuditFilter{Entity: "user", Limit: 100})
	var failed, throttled, ok int
	for _, a := range audit {
		switch {
		case a.Action == "login_failed" && a.Detail == "throttled":
			throttled++
		case a.Action == "login_failed":
			failed++
		case a.Action == "login":
			ok++
		}
		if strings.Contains(a.Detail, "not the password") || strings.Contains(a.Actor, "not the password") {
			t.Errorf("audit entry holds a password: %+v", a)
		}
	}
	if failed != throttleFree || throttled != 1 || ok != 2 {
		t.Errorf("audit: %d failed, %d throttled, %d logins", failed, throttled, ok)
	}
}

func TestThrottleBackoff(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := newThrottle(c.Now)
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, w := range want {
		th.fail("u")
		if got := th.wait("u"); got != w {
			t.Errorf("after %d failures: wait %v, want %v", i+1, got, w)
		}
	}
	for range 30 {
		th.fail("u")
	}
	if got := th.wait("u"); got != throttleMaxWait {
		t.Errorf("capped wait %v", got)
	}
	c.Advance(25 * time.Hour)
	th.prune()
	if len(th.m) != 0 {
		t.Error("prune kept a day-old entry")
	}
}

func TestLoginCSRF(t *testing.T) {
	e := newEnv(t)
	e.user("alice", ekbom.RoleClinician)
	b := e.browser()
	b.get("/login") // sets the pre-session cookie
	for name, token := range map[string]string{"missing": "", "wrong": strings.Repeat("A", 43)} {
		t.Run(name, func(t *testing.T) {
			r := b.post("/login", url.Values{"username": {"alice"}, "password": {testPassword}, "csrf": {token}})
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", r.StatusCode)
			}
		})
	}
	// Without the cookie, the form token alone is not enough.
	page := b.get("/login")
	tok := csrfRe.FindStringSubmatch(page.body)[1]
	r := e.browser().post("/login", url.Values{"username": {"alice"}, "password": {testPassword}, "csrf": {tok}})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("no cookie: status %d", r.StatusCode)
	}
}

// snapshot is everything a state-changing request could write.
func snapshot(t *testing.T, e *env, pid, vid, uid string) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	ps, _ := e.store.ListPatients(ctx, ekbom.PatientFilter{Limit: 1000})
	for _, p := range ps {
		fmt.Fprintf(&sb, "patient %s v%d %s|", p.ID, p.Version, p.Name)
	}
	vs, _ := e.store.ListVisits(ctx, pid)
	for _, v := range vs {
		fmt.Fprintf(&sb, "visit %s v%d|", v.ID, v.Version)
	}
	as, _ := e.store.ListAssessments(ctx, pid)
	fmt.Fprintf(&sb, "assessments %d|", len(as))
	us, _ := e.store.ListUsers(ctx)
	for _, u := range us {
		fmt.Fprintf(&sb, "user %s %v|", u.Username, u.Disabled)
	}
	ts, _ := e.store.ListAPITokens(ctx, uid)
	fmt.Fprintf(&sb, "tokens %d|", len(ts))
	au, _ := e.store.ListAudit(ctx, ekbom.AuditFilter{Limit: 10000})
	fmt.Fprintf(&sb, "audit %d", len(au))
	return sb.String()
}

// TestCSRFEveryPostRoute sends every registered state-changing route, as a
// signed-in admin, without and with a wrong CSRF token: each must answer 403
// and write nothing.
func TestCSRFEveryPostRoute(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("root", ekbom.RoleAdmin)
	admin, _ := e.store.GetUserByUsername(context.Background(), "root")
	other := e.user("other", ekbom.RoleClinician)
	csrf := b.csrf()
	p := e.patient("CSRF Patient", "1960-01-01")
	vid := idFrom(t, b.post("/patients/"+p.ID+"/visits", visitValues(csrf)), "visits")
	b.post("/account/tokens", url.Values{"name": {"t1"}, "csrf": {csrf}})
	toks, _ := e.store.ListAPITokens(context.Background(), admin.ID)
	if len(toks) != 1 {
		t.Fatal("token setup failed")
	}
	ids := map[string]string{"/patients/": p.ID, "/visits/": vid, "/account/tokens/": toks[0].ID, "/admin/users/": other.ID}
	fill := func(pattern string) string {
		path := pattern[strings.Index(pattern, " ")+1:]
		for prefix, id := range ids {
			if strings.HasPrefix(path, prefix) || strings.HasPrefix(path, "/api"+prefix) {
				return strings.Replace(path, "{id}", id, 1)
			}
		}
		return path
	}
	n := 0
	for _, pattern := range e.srv.patterns {
		method, _, _ := strings.Cut(pattern, " ")
		if safeMethod(method) || !strings.Contains(pattern, " ") || pattern == "POST /login" {
			continue
		}
		path := fill(pattern)
		api := strings.HasPrefix(path, "/api/")
		for _, token := range []string{"", "wrong-" + csrf[6:]} {
			n++
			before := snapshot(t, e, p.ID, vid, admin.ID)
			var r *response
			if api {
				req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(`{"name":"x","sex":"male","version":1,"data":{"age":50,"sex":"male"}}`))
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("X-CSRF-Token", token)
				}
				r = b.do(req)
			} else {
				form := url.Values{"name": {"Changed"}, "confirm": {"yes"}, "username": {"newuser"}, "role": {"admin"},
					"password": {"a long enough password"}, "sex": {"male"}, "date": {"2026-01-01"}, "age": {"50"}}
				if token != "" {
					form.Set("csrf", token)
				}
				r = b.post(path, form)
			}
			want := http.StatusForbidden
			if strings.HasPrefix(path, "/cds-services") {
				// CDS Hooks calls ignore cookies: without the EHR's JWT
				// they are refused before anything else.
				want = http.StatusUnauthorized
			}
			if r.StatusCode != want {
				t.Errorf("%s %s (csrf %q): status %d, want %d", method, path, token, r.StatusCode, want)
			}
			if after := snapshot(t, e, p.ID, vid, admin.ID); after != before {
				t.Errorf("%s %s (csrf %q) wrote:\nbefore %s\nafter  %s", method, path, token, before, after)
			}
		}
	}
	if n < 2*20 {
		t.Errorf("only %d requests: routes not found?", n)
	}
	// The session survived the refused logout.
	if r := b.get("/patients"); r.StatusCode != 200 {
		t.Errorf("after refused logout: %d", r.StatusCode)
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	p := e.patient("Nobody", "")
	b := e.browser()
	for _, path := range []string{"/", "/patients", "/patients/" + p.ID, "/patients/new", "/audit", "/admin/users", "/kb", "/tools/taper?drug=x", "/assessments/x/handout"} {
		r := b.get(path)
		want := "/login?next=" + url.QueryEscape(path)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("GET %s: %d → %q, want 303 → %q", path, r.StatusCode, r.Header.Get("Location"), want)
		}
	}
	if r := b.post("/patients", url.Values{"name": {"x"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("POST /patients: %d", r.StatusCode)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/patients"}, {"POST", "/api/patients"}, {"GET", "/api/patients/" + p.ID}, {"POST", "/api/assess"},
		{"DELETE", "/api/patients/" + p.ID}, {"GET", "/api/assessments/x"},
	} {
		r := e.api("", c.method, c.path, "application/json", "{}")
		if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, `"code": "unauthorized"`) || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.StatusCode, r.body)
		}
		if r := e.api("not-a-token", c.method, c.path, "application/json", "{}"); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s with a bad token: %d", c.method, c.path, r.StatusCode)
		}
	}
	// A session from someone else's cookie value does not work.
	req, _ := http.NewRequest("GET", e.ts.URL+"/patients", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: strings.Repeat("A", 43)})
	if r := b.do(req); r.StatusCode != http.StatusSeeOther {
		t.Errorf("forged cookie: %d", r.StatusCode)
	}
}

func TestAdminOnly(t *testing.T) {
	e := newEnv(t)
	clin := e.signedIn("clara", ekbom.RoleClinician)
	admin := e.signedIn("adam", ekbom.RoleAdmin)
	for _, path := range []string{"/admin/users", "/audit", "/audit?entity=patient"} {
		if r := clin.get(path); r.StatusCode != http.StatusForbidden {
			t.Errorf("clinician GET %s: %d, want 403", path, r.StatusCode)
		}
		if r := admin.get(path); r.StatusCode != http.StatusOK {
			t.Errorf("admin GET %s: %d", path, r.StatusCode)
		}
	}
	before, _ := e.store.ListUsers(context.Background())
	r := clin.post("/admin/users", url.Values{"csrf": {clin.csrf()}, "username": {"eve"}, "role": {"admin"}, "password": {"a long enough password"}})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("clinician creates a user: %d", r.StatusCode)
	}
	after, _ := e.store.ListUsers(context.Background())
	if len(after) != len(before) {
		t.Error("clinician created a user")
	}
	if strings.Contains(clin.get("/patients").body, `href="/admin/users"`) {
		t.Error("clinician sees the admin menu")
	}
}

func TestAdminManagesUsers(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("adam", ekbom.RoleAdmin)
	csrf := admin.csrf()
	r := admin.post("/admin/users", url.Values{"csrf": {csrf}, "username": {"Nina"}, "name": {"Nina N"}, "role": {"clinician"}, "password": {"short"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "password must be") {
		t.Fatalf("weak password: %d", r.StatusCode)
	}
	r = admin.post("/admin/users", url.Values{"csrf": {csrf}, "username": {"Nina"}, "name": {"Nina N"}, "role": {"clinician"}, "password": {testPassword}})
	if r.StatusCode != 200 || !strings.Contains(r.body, "User nina created.") {
		t.Fatalf("create: %d\n%s", r.StatusCode, r.body)
	}
	u, err := e.store.GetUserByUsername(context.Background(), "nina")
	if err != nil || u.Role != ekbom.RoleClinician || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("stored user: %+v %v", u, err)
	}
	if r := admin.post("/admin/users", url.Values{"csrf": {csrf}, "username": {"nina"}, "role": {"clinician"}, "password": {testPassword}}); r.StatusCode != http.StatusConflict {
		t.Errorf("duplicate username: %d", r.StatusCode)
	}
	nina := e.browser()
	if r := nina.login("nina", testPassword); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("new user login: %d", r.StatusCode)
	}
	if r := admin.post("/admin/users/"+u.ID+"/disable", url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	// A disabled user's session ends and they cannot sign in.
	if r := nina.get("/patients"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("disabled user's session still works: %d", r.StatusCode)
	}
	if r := e.browser().login("nina", testPassword); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled user signs in: %d", r.StatusCode)
	}
	self, _ := e.store.GetUserByUsername(context.Background(), "adam")
	if r := admin.post("/admin/users/"+self.ID+"/disable", url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("admin disables self: %d", r.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("lou", ekbom.RoleClinician)
	r := b.post("/logout", url.Values{"csrf": {b.csrf()}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.get("/patients"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d", r.StatusCode)
	}
	au, _ := e.store.ListAudit(context.Background(), ekbom.AuditFilter{Actor: "lou", Limit: 100})
	var actions []string
	for _, a := range au {
		actions = append(actions, a.Action)
	}
	if !strings.Contains(strings.Join(actions, ","), "logout") || !strings.Contains(strings.Join(actions, ","), "login") {
		t.Errorf("audit actions %v lack login and logout", actions)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("sam", ekbom.RoleClinician)
	e.clock.Advance(90 * time.Minute)
	if r := b.get("/patients"); r.StatusCode != 200 {
		t.Fatalf("active session: %d", r.StatusCode)
	}
	e.clock.Advance(90 * time.Minute) // 90 min idle < 2 h
	if r := b.get("/patients"); r.StatusCode != 200 {
		t.Fatalf("within idle limit: %d", r.StatusCode)
	}
	e.clock.Advance(2*time.Hour + time.Second) // idle too long
	if r := b.get("/patients"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("idle session still valid: %d", r.StatusCode)
	}
	// Absolute expiry, however active.
	b = e.signedIn("tom", ekbom.RoleClinician)
	for range 13 {
		e.clock.Advance(time.Hour)
		b.get("/patients")
	}
	if r := b.get("/patients"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("session past its absolute expiry still valid: %d", r.StatusCode)
	}
	// Sweep removes expired sessions from the store.
	e.signedIn("uma", ekbom.RoleClinician)
	e.clock.Advance(13 * time.Hour)
	n, err := e.srv.Sweep(context.Background())
	if err != nil || n < 1 {
		t.Errorf("sweep: %d %v", n, err)
	}
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("tina", ekbom.RoleClinician)
	csrf := b.csrf()
	if r := b.post("/account/tokens", url.Values{"name": {""}, "csrf": {csrf}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("nameless token: %d", r.StatusCode)
	}
	r := b.post("/account/tokens", url.Values{"name": {"ehr"}, "csrf": {csrf}})
	tok := regexpFind(t, `<code id="new-token">([^<]+)</code>`, r.body)
	if !strings.HasPrefix(tok, tokenPrefix) {
		t.Fatalf("token %q", tok)
	}
	// Shown once only.
	if strings.Contains(b.get("/account/tokens").body, tok) {
		t.Error("token shown again")
	}
	u, _ := e.store.GetUserByUsername(context.Background(), "tina")
	list, _ := e.store.ListAPITokens(context.Background(), u.ID)
	if len(list) != 1 || list[0].Hash != tokenHash(tok) || list[0].Hash == tok {
		t.Fatalf("stored tokens: %+v", list)
	}
	if r := e.api(tok, "GET", "/api/patients", "", ""); r.StatusCode != 200 {
		t.Fatalf("token call: %d %s", r.StatusCode, r.body)
	}
	// Token calls need no CSRF header.
	if r := e.api(tok, "POST", "/api/patients", "application/json", `{"name":"Tok","sex":"male"}`); r.StatusCode != http.StatusCreated {
		t.Errorf("token POST: %d %s", r.StatusCode, r.body)
	}
	au, _ := e.store.ListAudit(context.Background(), ekbom.AuditFilter{Actor: "token:tina/ehr", Limit: 10})
	if len(au) == 0 {
		t.Error("token calls are not audited with the token actor")
	}
	// Another user cannot delete it.
	other := e.signedIn("ursula", ekbom.RoleClinician)
	if r := other.post("/account/tokens/"+list[0].ID+"/delete", url.Values{"csrf": {other.csrf()}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("foreign delete: %d", r.StatusCode)
	}
	if r := b.post("/account/tokens/"+list[0].ID+"/delete", url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if r := e.api(tok, "GET", "/api/patients", "", ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("deleted token: %d", r.StatusCode)
	}
}

func TestAPISessionNeedsCSRFHeader(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("vic", ekbom.RoleClinician)
	csrf := b.csrf()
	send := func(header string) *response {
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/patients", strings.NewReader(`{"name":"S","sex":"female"}`))
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header.Set("X-CSRF-Token", header)
		}
		return b.do(req)
	}
	if r := send(""); r.StatusCode != http.StatusForbidden {
		t.Errorf("no header: %d", r.StatusCode)
	}
	if r := send(csrf); r.StatusCode != http.StatusCreated {
		t.Errorf("with header: %d %s", r.StatusCode, r.body)
	}
	if r := b.get("/api/patients"); r.StatusCode != 200 {
		t.Errorf("session GET: %d", r.StatusCode)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") || strings.Count(h, "$") != 5 {
		t.Errorf("hash %q", h)
	}
	h2, _ := HashPassword(testPassword)
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt?")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{testPassword, true}, {testPassword + " ", false}, {"", false}} {
		ok, err := VerifyPassword(h, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("VerifyPassword(%q) = %v, %v", tc.pw, ok, err)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=99999999,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "plain"} {
		if _, err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("short password accepted")
	}
}
