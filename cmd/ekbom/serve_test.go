package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const e2ePassword = "a long test password"

func TestAdminCreate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ekbom.db")
	tests := []struct {
		name   string
		env    string
		stdin  string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"from stdin", "", e2ePassword + "\n", []string{"admin", "create", "-username", "Root", "-name", "Root User", "-db", db}, 0, "created admin root", ""},
		{"exists", "", e2ePassword + "\n", []string{"admin", "create", "-username", "root", "-db", db}, 1, "", "already exists"},
		{"from env", e2ePassword, "", []string{"admin", "create", "-username", "second", "-db", db}, 0, "created admin second", ""},
		{"short password", "", "short\n", []string{"admin", "create", "-username", "third", "-db", db}, 2, "", "at least 12"},
		{"no password", "", "", []string{"admin", "create", "-username", "third", "-db", db}, 2, "", "no password"},
		{"bad username", "", e2ePassword + "\n", []string{"admin", "create", "-username", "no spaces", "-db", db}, 2, "", "-username"},
		{"clinician", "", e2ePassword + "\n", []string{"user", "create", "-username", "clin", "-role", "clinician", "-db", db}, 0, "created clinician clin", ""},
		{"bad role", "", e2ePassword + "\n", []string{"user", "create", "-username", "x1", "-role", "nurse", "-db", db}, 2, "", "-role"},
		{"no subcommand", "", "", []string{"admin"}, 2, "", "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("EKBOM_ADMIN_PASSWORD", tc.env)
			t.Setenv("EKBOM_USER_PASSWORD", "")
			code, out, errs := runCLI(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
		})
	}
}

// TestServeEndToEnd boots the real server through the command's wiring on
// 127.0.0.1:0 with an SQLite file, signs in as an admin created by `ekbom
// admin create`, uses a page and the API, and shuts down gracefully.
func TestServeEndToEnd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ekbom.db")
	if code, _, errs := runCLI(t, e2ePassword+"\n", "admin", "create", "-username", "root", "-db", db); code != 0 {
		t.Fatalf("admin create: %s", errs)
	}
	var logs syncBuf
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveConfig{Addr: "127.0.0.1:0", DB: db}, log, func(u string) { urlc <- u })
	}()
	var base string
	select {
	case base = <-urlc:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.Contains(logs.String(), base) {
		t.Errorf("base %q; logs:\n%s", base, logs.String())
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	_, page := get("/login")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("no csrf on login page")
	}
	resp, err := c.PostForm(base+"/login", url.Values{"username": {"root"}, "password": {e2ePassword}, "csrf": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/patients" || !strings.Contains(string(b), `id="patient-list"`) {
		t.Fatalf("after login: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	if code, _ := get("/admin/users"); code != 200 {
		t.Errorf("admin page: %d", code)
	}
	resp, err = http.Post(base+"/api/assess", "application/json", strings.NewReader(`{"age":50,"sex":"male"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous API call: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no graceful shutdown")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
	if !strings.Contains(logs.String(), `"route":"/patients"`) || strings.Contains(logs.String(), e2ePassword) {
		t.Errorf("logs:\n%s", logs.String())
	}
}

func TestServeFlags(t *testing.T) {
	if code, _, errs := runCLI(t, "", "serve", "-nope"); code != 2 || !strings.Contains(errs, "-nope") {
		t.Errorf("bad flag: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "", "serve", "extra"); code != 2 {
		t.Errorf("extra argument: %d", code)
	}
	// An address that cannot be bound fails cleanly.
	t.Setenv("EKBOM_DB", filepath.Join(t.TempDir(), "x.db"))
	t.Setenv("EKBOM_ADDR", "256.0.0.1:1")
	if code, _, errs := runCLI(t, "", "serve"); code != 1 || !strings.Contains(errs, "serve failed") {
		t.Errorf("bad address: %d %s", code, errs)
	}
}

func TestRedactDSN(t *testing.T) {
	dsn := "postgres://u:secret@db/ekbom"
	if got := redact("connect "+dsn+": refused", dsn); strings.Contains(got, "secret") {
		t.Errorf("redact: %q", got)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestLoadIssuers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yamlFile := write("issuers.yaml", `issuers:
  - issuer: https://ehr.example.org
    jwks_urls: [https://ehr.example.org/.well-known/jwks.json]
    fhir_servers: [https://ehr.example.org/fhir/r4]
  - issuer: https://sandbox.cds-hooks.org
    jwks_urls: [https://sandbox.cds-hooks.org/.well-known/jwks.json]
`)
	got, err := loadIssuers(yamlFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Issuer != "https://ehr.example.org" || got[0].FHIRServers[0] != "https://ehr.example.org/fhir/r4" ||
		got[1].JWKSURLs[0] != "https://sandbox.cds-hooks.org/.well-known/jwks.json" {
		t.Errorf("yaml: %+v", got)
	}
	jsonFile := write("issuers.json", `{"issuers": [{"issuer": "https://ehr.example.org", "jwks_urls": ["https://ehr.example.org/jwks"]}]}`)
	if got, err := loadIssuers(jsonFile); err != nil || len(got) != 1 {
		t.Errorf("json: %+v %v", got, err)
	}
	for name, body := range map[string]string{
		"unknown field": "issuers:\n  - issuer: a\n    jwks_url: https://x/jwks\n",
		"empty":         "issuers: []\n",
		"not yaml":      "{{{",
	} {
		if _, err := loadIssuers(write(name, body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := loadIssuers(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

// TestServeCDSFlags checks the CDS Hooks flags: the development switch is
// refused beyond loopback, a bad issuers file stops the server, and the
// discovery endpoint answers 401 without a token.
func TestServeCDSFlags(t *testing.T) {
	t.Setenv("EKBOM_DB", filepath.Join(t.TempDir(), "x.db"))
	if code, _, errs := runCLI(t, "", "serve", "-addr", "0.0.0.0:0", "-cds-insecure-no-auth"); code != 1 || !strings.Contains(errs, "local development only") {
		t.Errorf("insecure beyond loopback: %d %s", code, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("issuers:\n  - issuer: x\n    jwks_urls: [http://ehr.example.org/jwks]\n"), 0o600)
	if code, _, errs := runCLI(t, "", "serve", "-addr", "127.0.0.1:0", "-public-url", "https://ekbom.test", "-cds-issuers", bad); code != 1 || !strings.Contains(errs, "https") {
		t.Errorf("http JWK Set URL: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "", "serve", "-addr", "127.0.0.1:0", "-cds-replay", "redis"); code != 1 || !strings.Contains(errs, "-cds-replay") {
		t.Errorf("bad -cds-replay: %d %s", code, errs)
	}

	db := filepath.Join(t.TempDir(), "ekbom.db")
	var logs syncBuf
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveConfig{Addr: "127.0.0.1:0", DB: db, CDSInsecure: true}, log, func(u string) { urlc <- u })
	}()
	var base string
	select {
	case base = <-urlc:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	resp, err := http.Get(base + "/cds-services")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("insecure discovery: %d", resp.StatusCode)
	}
	cancel()
	<-done
	if !strings.Contains(logs.String(), "JWT verification is OFF") || !strings.Contains(logs.String(), base+"/cds-services") {
		t.Errorf("logs lack the warning or the discovery URL:\n%s", logs.String())
	}
}
