package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ekbom"
	"ekbom/engine"
	"ekbom/intake"
	"ekbom/internal/sqlite"
	"ekbom/internal/sqlstore"
	"ekbom/kb"
)

// testPassword is every test user's password.
const testPassword = "correct horse battery"

// cheapArgon keeps tests fast; production hashes use defaultArgon.
var cheapArgon = argonParams{memory: 1024, time: 1, threads: 1, keyLen: 32, saltLen: 16}

// clock is a settable clock that starts at the real time, because the store
// checks session expiry against the real clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	store *sqlstore.Store
	clock *clock
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var (
	testEngineOnce sync.Once
	testEngine     *engine.Engine
)

func sharedEngine(t *testing.T) *engine.Engine {
	t.Helper()
	testEngineOnce.Do(func() {
		b, err := kb.Default()
		if err != nil {
			t.Fatal(err)
		}
		testEngine, err = engine.New(b, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
	})
	return testEngine
}

// newEnv starts a server on a fresh SQLite database in t.TempDir().
func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ekbom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, store: st, clock: &clock{t: time.Now()}, logs: &syncBuffer{}}
	srv, err := New(Options{
		Store: st, Engine: sharedEngine(t), Now: e.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(e.ts.Close)
	return e
}

// user creates an account with testPassword.
func (e *env) user(username string, role ekbom.Role) *ekbom.User {
	e.t.Helper()
	hash, err := hashWith(testPassword, cheapArgon)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &ekbom.User{Username: username, Name: strings.ToUpper(username), Role: role, PasswordHash: hash, CreatedAt: time.Now()}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) *response {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, body: string(data)}
}

func (b *browser) get(path string) *response {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.ts.URL+path, nil)
	return b.do(req)
}

// post sends a form; csrf is added unless form already has one.
func (b *browser) post(path string, form url.Values) *response {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrf reads the CSRF token from a signed-in page.
func (b *browser) csrf() string {
	b.e.t.Helper()
	r := b.get("/account/tokens")
	m := csrfRe.FindStringSubmatch(r.body)
	if m == nil {
		b.e.t.Fatalf("no csrf token on page (status %d)", r.StatusCode)
	}
	return m[1]
}

// login signs in and fails the test unless it works.
func (b *browser) login(username, password string) *response {
	b.e.t.Helper()
	page := b.get("/login")
	m := csrfRe.FindStringSubmatch(page.body)
	if m == nil {
		b.e.t.Fatalf("login page has no csrf field:\n%s", page.body)
	}
	return b.post("/login", url.Values{"username": {username}, "password": {password}, "csrf": {m[1]}})
}

// signedIn returns a browser signed in as a new user with role.
func (e *env) signedIn(username string, role ekbom.Role) *browser {
	e.t.Helper()
	e.user(username, role)
	b := e.browser()
	if r := b.login(username, testPassword); r.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d\n%s", username, r.StatusCode, r.body)
	}
	return b
}

// api calls the JSON API with a bearer token.
func (e *env) api(token, method, path, contentType string, body string) *response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.ts.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, body: string(data)}
}

// token creates an API token for a new user through the UI and returns it.
func (e *env) token(username string, role ekbom.Role) string {
	e.t.Helper()
	b := e.signedIn(username, role)
	r := b.post("/account/tokens", url.Values{"name": {"test"}, "csrf": {b.csrf()}})
	m := regexp.MustCompile(`<code id="new-token">([^<]+)</code>`).FindStringSubmatch(r.body)
	if m == nil {
		e.t.Fatalf("no token shown (status %d)", r.StatusCode)
	}
	return m[1]
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, body)
	}
	return v
}

// patient creates a patient record directly in the store.
func (e *env) patient(name string, birth string) *ekbom.PatientRecord {
	e.t.Helper()
	p := &ekbom.PatientRecord{Name: name, Sex: ekbom.Female}
	if birth != "" {
		d, _ := ekbom.ParseDate(birth)
		p.BirthDate = &d
	}
	if err := e.store.CreatePatient(context.Background(), p, "test"); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func regexpFind(t *testing.T, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s", re)
	}
	return m[1]
}

var ioEOF = io.EOF

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func httptestRequest(method, path string) *http.Request {
	return httptest.NewRequest(method, path, nil)
}

func intakeNormalize(p *ekbom.Patient, b *kb.Base) error {
	return intake.Normalize(p, b, intake.Options{})
}
