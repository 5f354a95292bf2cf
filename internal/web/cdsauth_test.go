package web

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestCDSJWT checks the CDS Hooks client authentication: valid ES384 and
// RS384 tokens are accepted; every other token gets a bare 401 (empty
// body) and the reason is logged without the token.
func TestCDSJWT(t *testing.T) {
	const path = "/cds-services"
	k := testKeys()
	type mut = func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any
	tests := []struct {
		name   string
		mutate mut
		raw    func(e *cdsEnv) string // a hand-made token instead
		want   int
	}{
		{name: "valid ES384", want: http.StatusOK},
		{name: "valid RS384", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			*m = jwt.SigningMethodRS384
			h["kid"] = "rsa-1"
			return k.rsa
		}, want: http.StatusOK},
		{name: "valid without jku (configured JWK Set URL)", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			h["jku"] = nil
			return nil
		}, want: http.StatusOK},
		{name: "aud as an array", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["aud"] = []string{cdsPublicURL + path}
			return nil
		}, want: http.StatusOK},
		{name: "alg none", raw: func(e *cdsEnv) string {
			enc := base64.RawURLEncoding.EncodeToString
			c := e.claims(path)
			body, _ := jwtJSON(c)
			return enc([]byte(`{"alg":"none","typ":"JWT","kid":"ec-1"}`)) + "." + enc(body) + "."
		}, want: http.StatusUnauthorized},
		{name: "HS256", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			*m = jwt.SigningMethodHS256
			return []byte("a shared secret the EHR should never use")
		}, want: http.StatusUnauthorized},
		{name: "HS384 keyed with the public key (algorithm confusion)", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			*m = jwt.SigningMethodHS384
			h["kid"] = "rsa-1"
			return k.rsa.PublicKey.N.Bytes()
		}, want: http.StatusUnauthorized},
		{name: "wrong aud", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["aud"] = cdsPublicURL + "/cds-services/ekbom-rls-order-sign"
			return nil
		}, want: http.StatusUnauthorized},
		{name: "aud of another host", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["aud"] = "https://evil.test" + path
			return nil
		}, want: http.StatusUnauthorized},
		{name: "expired", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["iat"] = cdsNow.Add(-10 * time.Minute).Unix()
			c["exp"] = cdsNow.Add(-2 * time.Minute).Unix()
			return nil
		}, want: http.StatusUnauthorized},
		{name: "expired within the skew is accepted", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["exp"] = cdsNow.Add(-30 * time.Second).Unix()
			return nil
		}, want: http.StatusOK},
		{name: "no exp", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			delete(c, "exp")
			return nil
		}, want: http.StatusUnauthorized},
		{name: "exp too far ahead", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["exp"] = cdsNow.Add(time.Hour).Unix()
			return nil
		}, want: http.StatusUnauthorized},
		{name: "future nbf", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["nbf"] = cdsNow.Add(3 * time.Minute).Unix()
			return nil
		}, want: http.StatusUnauthorized},
		{name: "iat in the future", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["iat"] = cdsNow.Add(3 * time.Minute).Unix()
			return nil
		}, want: http.StatusUnauthorized},
		{name: "no iat", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			delete(c, "iat")
			return nil
		}, want: http.StatusUnauthorized},
		{name: "no jti", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			delete(c, "jti")
			return nil
		}, want: http.StatusUnauthorized},
		{name: "unknown kid", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			h["kid"] = "rotated-away"
			return nil
		}, want: http.StatusUnauthorized},
		{name: "no kid", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			h["kid"] = nil
			return nil
		}, want: http.StatusUnauthorized},
		{name: "untrusted issuer", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			c["iss"] = "https://other-ehr.test"
			return nil
		}, want: http.StatusUnauthorized},
		{name: "signed by another key with the right kid", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			return k.ec2
		}, want: http.StatusUnauthorized},
		{name: "RS384 header with the EC key id", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			*m = jwt.SigningMethodRS384
			return k.rsa
		}, want: http.StatusUnauthorized},
		{name: "typ not JWT", mutate: func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			h["typ"] = "at+jwt"
			return nil
		}, want: http.StatusUnauthorized},
		{name: "no token", raw: func(*cdsEnv) string { return "" }, want: http.StatusUnauthorized},
		{name: "garbage", raw: func(*cdsEnv) string { return "not.a.jwt" }, want: http.StatusUnauthorized},
	}
	e := newCDSEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tok string
			if tc.raw != nil {
				tok = tc.raw(e)
			} else {
				tok = e.sign(path, tc.mutate)
			}
			rec := e.call(http.MethodGet, path, tok, nil)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d; log:\n%s", rec.Code, tc.want, lastLines(e.logs.String(), 3))
			}
			if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Error("no CORS header")
			}
			if tc.want == http.StatusUnauthorized {
				if rec.Body.Len() != 0 {
					t.Errorf("401 with a body: %q", rec.Body.String())
				}
				if tok != "" && strings.Contains(e.logs.String(), tok) {
					t.Error("the token was logged")
				}
			}
		})
	}
}

// TestCDSJWTNotAllowListedJKU checks that a jku outside the issuer's
// allow-list is refused without being fetched, even when the token is
// signed by the key it names.
func TestCDSJWTNotAllowListedJKU(t *testing.T) {
	k := testKeys()
	e := newCDSEnv(t)
	evil := newJWKSServer(t, ecJWK("ec-1", &k.ec2.PublicKey))
	tok := e.sign("/cds-services", func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
		h["jku"] = evil.url
		return k.ec2
	})
	rec := e.call(http.MethodGet, "/cds-services", tok, nil)
	if rec.Code != http.StatusUnauthorized || rec.Body.Len() != 0 {
		t.Fatalf("status %d body %q, want a bare 401", rec.Code, rec.Body.String())
	}
	if n := evil.fetches.Load(); n != 0 {
		t.Errorf("the non-allow-listed JWK Set was fetched %d times", n)
	}
	// A jku that differs only by a trailing slash or query is not the same.
	for _, jku := range []string{e.jwks.url + "/", e.jwks.url + "?x=1", strings.ToUpper(e.jwks.url[:4]) + e.jwks.url[4:]} {
		tok := e.sign("/cds-services", func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			h["jku"] = jku
			return nil
		})
		if rec := e.call(http.MethodGet, "/cds-services", tok, nil); rec.Code != http.StatusUnauthorized {
			t.Errorf("jku %q: status %d, want 401", jku, rec.Code)
		}
	}
}

// TestCDSJWTReplay checks a token is accepted once only.
func TestCDSJWTReplay(t *testing.T) {
	e := newCDSEnv(t)
	tok := e.token("/cds-services")
	if rec := e.call(http.MethodGet, "/cds-services", tok, nil); rec.Code != http.StatusOK {
		t.Fatalf("first use: %d", rec.Code)
	}
	rec := e.call(http.MethodGet, "/cds-services", tok, nil)
	if rec.Code != http.StatusUnauthorized || rec.Body.Len() != 0 {
		t.Fatalf("replay: status %d body %q, want a bare 401", rec.Code, rec.Body.String())
	}
	if !strings.Contains(e.logs.String(), "jti replayed") {
		t.Errorf("the reason is not logged:\n%s", lastLines(e.logs.String(), 2))
	}
	// The same jti from another endpoint is a replay too.
	tok2 := e.sign("/cds-services/ekbom-rls-patient-view", func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
		c["jti"] = "jti-1"
		return nil
	})
	if rec := e.call(http.MethodPost, "/cds-services/ekbom-rls-patient-view", tok2, []byte(`{}`)); rec.Code != http.StatusUnauthorized {
		t.Errorf("same jti on another endpoint: %d", rec.Code)
	}
}

// TestCDSJWKSCaching checks the JWK Set is fetched once and cached, an
// unknown kid refetches it at most once a minute, and the fetch has a hard
// timeout.
func TestCDSJWKSCaching(t *testing.T) {
	e := newCDSEnv(t)
	for range 5 {
		if rec := e.call(http.MethodGet, "/cds-services", e.token("/cds-services"), nil); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if n := e.jwks.fetches.Load(); n != 1 {
		t.Errorf("%d JWK Set fetches for 5 calls, want 1", n)
	}
	for range 3 {
		tok := e.sign("/cds-services", func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
			h["kid"] = "new-key"
			return nil
		})
		e.call(http.MethodGet, "/cds-services", tok, nil)
	}
	// The clock is fixed, and the first fetch was less than a minute ago.
	if n := e.jwks.fetches.Load(); n != 1 {
		t.Errorf("%d fetches after unknown kids within a minute, want still 1", n)
	}
}

func TestCDSJWKSTimeout(t *testing.T) {
	hang := make(chan struct{})
	slow := newJWKSServer(t)
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	defer close(hang)
	e := newCDSEnv(t, func(o *CDSOptions) {
		o.Issuers[0].JWKSURLs = []string{slow.url}
		o.JWKSTimeout = 200 * time.Millisecond
	})
	tok := e.sign("/cds-services", func(m *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any {
		h["jku"] = slow.url
		return nil
	})
	start := time.Now()
	rec := e.call(http.MethodGet, "/cds-services", tok, nil)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", rec.Code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: the JWK Set fetch has no hard timeout", d)
	}
}

func TestCDSIssuerConfig(t *testing.T) {
	for name, iss := range map[string]CDSIssuer{
		"no issuer":      {JWKSURLs: []string{"https://ehr.test/jwks"}},
		"no jwks":        {Issuer: "https://ehr.test"},
		"http jwks":      {Issuer: "https://ehr.test", JWKSURLs: []string{"http://ehr.test/jwks"}},
		"not a URL jwks": {Issuer: "https://ehr.test", JWKSURLs: []string{"jwks.json"}},
	} {
		if _, err := newJWTVerifier([]CDSIssuer{iss}, http.DefaultClient, time.Second, time.Now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := newJWTVerifier([]CDSIssuer{{Issuer: "a", JWKSURLs: []string{"http://127.0.0.1:9/jwks"}}}, http.DefaultClient, time.Second, time.Now); err != nil {
		t.Errorf("http on loopback refused: %v", err)
	}
	if _, err := newCDSService(CDSOptions{Issuers: []CDSIssuer{{Issuer: "a", JWKSURLs: []string{"https://x.test/j"}}}}, cdsDiscoveryForTest(), nil, time.Now); err == nil {
		t.Error("issuers without a public URL accepted")
	}
}

func TestCDSReplayCacheBounded(t *testing.T) {
	c := newReplayCache(3)
	now := cdsNow
	for i, id := range []string{"a", "b", "c"} {
		if !c.add(id, now.Add(time.Minute), now) {
			t.Fatalf("add %d refused", i)
		}
	}
	if c.add("d", now.Add(time.Minute), now) {
		t.Error("a full cache of live ids accepted a new one")
	}
	if c.add("a", now.Add(time.Minute), now) {
		t.Error("replay accepted")
	}
	later := now.Add(2 * time.Minute)
	if !c.add("d", later.Add(time.Minute), later) {
		t.Error("expired ids were not pruned")
	}
}

func jwtJSON(c jwt.MapClaims) ([]byte, error) { return jsonMarshal(c) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestCDSJWTConcurrent verifies tokens from many goroutines at once (run
// with -race): all accepted, the JWK Set fetched once.
func TestCDSJWTConcurrent(t *testing.T) {
	e := newCDSEnv(t)
	const n = 20
	toks := make([]string, n)
	for i := range toks {
		toks[i] = e.token("/cds-services")
	}
	codes := make(chan int, n)
	for _, tok := range toks {
		go func() { codes <- e.call(http.MethodGet, "/cds-services", tok, nil).Code }()
	}
	for range n {
		if c := <-codes; c != http.StatusOK {
			t.Errorf("status %d", c)
		}
	}
	if f := e.jwks.fetches.Load(); f != 1 {
		t.Errorf("%d JWK Set fetches, want 1", f)
	}
}

// replica returns a second server over e's store and JWK Set, as another
// replica of the service behind a load balancer would be.
func (e *cdsEnv) replica(t *testing.T, replayInStore bool) *cdsEnv {
	t.Helper()
	eng, err := cdsEngine()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := New(Options{
		Store: e.store, Engine: eng, Now: e.now, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		CDS: CDSOptions{PublicURL: cdsPublicURL, Issuers: []CDSIssuer{{Issuer: testIssuer, JWKSURLs: []string{e.jwks.url}}}, ReplayInStore: replayInStore},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &cdsEnv{t: t, now: e.now, srv: srv, store: e.store, jwks: e.jwks, logs: logs}
}

// TestCDSReplayAcrossReplicas: with the token ids in the store, a token
// used on one replica is refused on another; with the in-memory cache
// (the default for SQLite) each replica only knows its own, which is why
// serve keeps them in the store with PostgreSQL.
func TestCDSReplayAcrossReplicas(t *testing.T) {
	const path = "/cds-services"
	for _, shared := range []bool{true, false} {
		a := newCDSEnv(t, func(o *CDSOptions) { o.ReplayInStore = shared })
		b := a.replica(t, shared)
		tok := a.token(path)
		if rec := a.call(http.MethodGet, path, tok, nil); rec.Code != http.StatusOK {
			t.Fatalf("shared=%v: first use: %d", shared, rec.Code)
		}
		rec := b.call(http.MethodGet, path, tok, nil)
		switch {
		case shared && rec.Code != http.StatusUnauthorized:
			t.Errorf("ids in the store: the replay on another replica got %d, want 401", rec.Code)
		case !shared && rec.Code != http.StatusOK:
			t.Errorf("ids in memory: the other replica got %d; the test expects it not to know the token", rec.Code)
		}
		if rec := a.call(http.MethodGet, path, tok, nil); rec.Code != http.StatusUnauthorized {
			t.Errorf("shared=%v: replay on the same replica got %d, want 401", shared, rec.Code)
		}
	}
}

// TestCDSReplayStoreDown: when the replay check cannot reach the store the
// call is refused with 503 (try again), not 401 (the token is fine).
func TestCDSReplayStoreDown(t *testing.T) {
	const path = "/cds-services"
	e := newCDSEnv(t, func(o *CDSOptions) { o.ReplayInStore = true })
	e.store.Close()
	rec := e.call(http.MethodGet, path, e.token(path), nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "transient") {
		t.Errorf("store closed: %d %q, want 503 transient", rec.Code, rec.Body.String())
	}
}
