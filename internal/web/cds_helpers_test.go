package web

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ekbom/cdshooks"
	"ekbom/engine"
	"ekbom/internal/sqlite"
	"ekbom/internal/sqlstore"
	"ekbom/kb"

	"github.com/golang-jwt/jwt/v5"
)

// cdsNow is the fixed clock of the CDS Hooks tests: goldens and tokens
// depend on it.
var cdsNow = time.Date(2026, time.November, 21, 12, 0, 0, 0, time.UTC)

// cdsPublicURL is the public base URL the test server is configured with;
// token aud and plan links start with it.
const cdsPublicURL = "https://ekbom.test"

// testKeys are the EHR's signing keys, made once per test binary (RSA key
// generation is slow).
type signingKeys struct {
	ec  *ecdsa.PrivateKey // P-384, kid ec-1
	rsa *rsa.PrivateKey   // 2048 bits, kid rsa-1
	ec2 *ecdsa.PrivateKey // an attacker's P-384 key
}

var testKeys = sync.OnceValue(func() signingKeys {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		panic(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ec2, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return signingKeys{ec, rk, ec2}
})

// cdsEngine is the engine of the CDS Hooks tests and benchmarks.
var cdsEngine = sync.OnceValues(func() (*engine.Engine, error) {
	b, err := kb.Default()
	if err != nil {
		return nil, err
	}
	return engine.New(b, engine.Options{})
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	size := (k.Curve.Params().BitSize + 7) / 8
	pad := func(x *big.Int) []byte { return x.FillBytes(make([]byte, size)) }
	return map[string]any{"kty": "EC", "crv": "P-384", "kid": kid, "use": "sig", "alg": "ES384", "x": b64(pad(k.X)), "y": b64(pad(k.Y))}
}

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS384", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

// jwksServer serves a JWK Set on loopback and counts its fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int32
	url     string
}

func newJWKSServer(t testing.TB, keys ...map[string]any) *jwksServer {
	t.Helper()
	js := &jwksServer{}
	body, _ := json.Marshal(map[string]any{"keys": keys})
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(js.Close)
	js.url = js.URL + "/.well-known/jwks.json"
	return js
}

const testIssuer = "https://ehr.test"

// cdsEnv is a server with CDS Hooks on, trusting testIssuer, on a fresh
// SQLite database, called in-process.
type cdsEnv struct {
	t     testing.TB
	now   func() time.Time
	srv   *Server
	store *sqlstore.Store
	jwks  *jwksServer
	logs  *syncBuffer
	jti   atomic.Int64
}

func newCDSEnv(t testing.TB, mutate ...func(*CDSOptions)) *cdsEnv {
	t.Helper()
	return newCDSEnvAt(t, func() time.Time { return cdsNow }, mutate...)
}

// newCDSEnvAt is newCDSEnv with the clock now.
func newCDSEnvAt(t testing.TB, now func() time.Time, mutate ...func(*CDSOptions)) *cdsEnv {
	t.Helper()
	k := testKeys()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ekbom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	js := newJWKSServer(t, ecJWK("ec-1", &k.ec.PublicKey), rsaJWK("rsa-1", &k.rsa.PublicKey))
	opt := CDSOptions{
		PublicURL: cdsPublicURL,
		Issuers:   []CDSIssuer{{Issuer: testIssuer, JWKSURLs: []string{js.url}}},
	}
	for _, m := range mutate {
		m(&opt)
	}
	logs := &syncBuffer{}
	eng, err := cdsEngine()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{
		Store: st, Engine: eng, Now: now,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), CDS: opt,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &cdsEnv{t: t, now: now, srv: srv, store: st, jwks: js, logs: logs}
}

// claims returns valid claims for a call to path.
func (e *cdsEnv) claims(path string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer, "sub": "ehr-client", "aud": cdsPublicURL + path,
		"iat": e.now().Unix(), "exp": e.now().Add(5 * time.Minute).Unix(),
		"jti": fmt.Sprintf("jti-%d", e.jti.Add(1)), "tenant": "clinic-1",
	}
}

// sign makes a token: ES384 with kid ec-1 and the allow-listed jku, after
// mutate has changed the header or claims.
func (e *cdsEnv) sign(path string, mutate func(method *jwt.SigningMethod, h map[string]any, c jwt.MapClaims) any) string {
	e.t.Helper()
	k := testKeys()
	var method jwt.SigningMethod = jwt.SigningMethodES384
	h := map[string]any{"kid": "ec-1", "jku": e.jwks.url, "typ": "JWT"}
	c := e.claims(path)
	var key any = k.ec
	if mutate != nil {
		if alt := mutate(&method, h, c); alt != nil {
			key = alt
		}
	}
	tok := jwt.NewWithClaims(method, c)
	for k, v := range h {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// token is a valid ES384 token for path.
func (e *cdsEnv) token(path string) string { return e.sign(path, nil) }

// call sends a request to the server in-process.
func (e *cdsEnv) call(method, path, token string, body []byte) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func cdsDiscoveryForTest() cdshooks.Discovery {
	b, err := kb.Default()
	if err != nil {
		panic(err)
	}
	return cdshooks.Services(b)
}
