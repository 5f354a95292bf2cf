package e2e

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// webClient is a cookie-keeping HTTP client that does not follow
// redirects, so tests see the 303s themselves.
type webClient struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newClient(t testing.TB, base string) *webClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &webClient{t: t, base: base, hc: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a read response.
type response struct {
	Status int
	Header http.Header
	Body   string
}

func (r response) location() string { return r.Header.Get("Location") }

func (c *webClient) do(req *http.Request) response {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func (c *webClient) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *webClient) postForm(path string, form url.Values) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// send makes a request with an optional JSON body and extra headers.
func (c *webClient) send(method, path, body string, header map[string]string) response {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return c.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfFrom returns the CSRF token of a page's forms.
func csrfFrom(t testing.TB, page response) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no csrf field on the page (status %d)", page.Status)
	}
	return html.UnescapeString(m[1])
}

// login signs in through the sign-in form, as a browser would, and checks
// the redirect to /patients.
func (c *webClient) login(user, password string) {
	c.t.Helper()
	page := c.get("/login")
	if page.Status != http.StatusOK {
		c.t.Fatalf("GET /login: %d", page.Status)
	}
	r := c.postForm("/login", url.Values{"username": {user}, "password": {password}, "csrf": {csrfFrom(c.t, page)}, "next": {"/patients"}})
	if r.Status != http.StatusSeeOther || r.location() != "/patients" {
		c.t.Fatalf("sign in as %s: %d → %q\n%s", user, r.Status, r.location(), r.Body)
	}
}

// csrf returns the session's CSRF token, read from a signed-in page.
func (c *webClient) csrf() string {
	c.t.Helper()
	page := c.get("/account/tokens")
	if page.Status != http.StatusOK {
		c.t.Fatalf("GET /account/tokens: %d", page.Status)
	}
	return csrfFrom(c.t, page)
}

var newTokenRe = regexp.MustCompile(`<code id="new-token">(ekb_[A-Za-z0-9_-]+)</code>`)

// createToken makes an API token on /account/tokens and returns it.
func (c *webClient) createToken(name string) string {
	c.t.Helper()
	r := c.postForm("/account/tokens", url.Values{"name": {name}, "csrf": {c.csrf()}})
	m := newTokenRe.FindStringSubmatch(r.Body)
	if r.Status != http.StatusOK || m == nil {
		c.t.Fatalf("create token: %d\n%s", r.Status, r.Body)
	}
	return m[1]
}

// apiClient calls the JSON API with a bearer token.
type apiClient struct {
	t     testing.TB
	base  string
	token string
	hc    *http.Client
}

func newAPI(t testing.TB, base, token string) *apiClient {
	return &apiClient{t: t, base: base, token: token, hc: &http.Client{Timeout: 30 * time.Second}}
}

// call sends one request; err is a transport error (the server may be
// gone), which the crash test expects.
func (a *apiClient) call(method, path, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

// must is call for requests that must get through.
func (a *apiClient) must(method, path, body string) response {
	a.t.Helper()
	r, err := a.call(method, path, body)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// apiError is the API's error body.
type apiError struct {
	Error struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Problems []struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"problems"`
	} `json:"error"`
}

func decodeJSON[T any](t testing.TB, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, body)
	}
	return v
}
