package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"ekbom"
)

// CDS Hooks client authentication (CDS Hooks 2.0, "Trusting CDS Clients").
// Every call carries "Authorization: Bearer <JWT>" signed by the EHR. The
// verifier accepts a token only when:
//
//   - the header alg is asymmetric (ES256/384/512, RS256/384/512, PS256/384/512;
//     never none or HMAC) and kid is set, and typ, if set, is JWT;
//   - iss is a configured trusted issuer, and the key comes from that issuer's
//     allow-listed JWK Set URLs: the jku header must be one of them exactly,
//     and without jku the configured URLs are searched;
//   - the signature verifies with the key whose kid matches (the key's kty and
//     curve must fit alg, and its alg, if set, must equal the header's);
//   - aud is (or contains) the exact URL of the endpoint called;
//   - exp is set and in the future, iat is set and not in the future, nbf (if
//     set) is passed, all with at most ClockSkew of leeway, and exp is at most
//     MaxTokenLifetime ahead;
//   - jti is set and was not seen before from the same issuer while the
//     token could be valid (an in-memory, bounded replay cache).
//
// JWK Sets are fetched with a hard timeout, cached per URL, and fetched again
// on an unknown kid at most once a minute per URL.

// CDSIssuer is an EHR trusted to call the CDS Hooks services.
type CDSIssuer struct {
	// Issuer is the exact iss claim of the EHR's tokens.
	Issuer string `json:"issuer" yaml:"issuer"`
	// JWKSURLs are the JWK Set URLs the issuer's keys may come from (https,
	// or http on a loopback address); a token's jku header must be one of
	// them exactly.
	JWKSURLs []string `json:"jwks_urls" yaml:"jwks_urls"`
	// FHIRServers, when set, are the only fhirServer base URLs from which
	// ekbom fetches missing prefetch data for this issuer. Empty: any https
	// server the EHR names.
	FHIRServers []string `json:"fhir_servers,omitempty" yaml:"fhir_servers"`
}

// jwtAlgorithms are the signing algorithms accepted: asymmetric only.
var jwtAlgorithms = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// Verifier defaults and limits.
const (
	defaultJWKSTimeout   = 2 * time.Second
	defaultClockSkew     = 60 * time.Second
	defaultTokenLifetime = 5 * time.Minute
	jwksRefetchInterval  = time.Minute // at most one refetch per URL per minute on an unknown kid
	jwksMaxAge           = time.Hour   // cached key sets are refreshed after this
	jwksBodyLimit        = 256 << 10
	replayCacheMax       = 100_000
	minRSABits           = 2048
)

// errJWT is the sentinel of every token rejection; its reason is logged,
// never shown.
var errJWT = errors.New("jwt rejected")

// rejection is a token rejection with a reason that holds no token content.
type rejection struct{ reason string }

func (r *rejection) Error() string        { return errJWT.Error() + ": " + r.reason }
func (r *rejection) Is(target error) bool { return target == errJWT }

func rejectf(format string, args ...any) error {
	return &rejection{reason: fmt.Sprintf(format, args...)}
}

// jwtFailures are the library's failure kinds, reported by name only: its
// messages can quote decoded token bytes.
var jwtFailures = []error{
	jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet,
	jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidAudience, jwt.ErrTokenRequiredClaimMissing,
	jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidClaims, jwt.ErrTokenUnverifiable,
}

// reasonOf turns a parse error into a rejection safe to log.
func reasonOf(err error) error {
	var r *rejection
	if errors.As(err, &r) {
		return r
	}
	for _, f := range jwtFailures {
		if errors.Is(err, f) {
			return rejectf("%s", f.Error())
		}
	}
	return rejectf("invalid token")
}

// jwtVerifier checks CDS Hooks bearer tokens. It is safe for concurrent use.
type jwtVerifier struct {
	issuers  map[string]*CDSIssuer
	client   *http.Client
	timeout  time.Duration
	skew     time.Duration
	lifetime time.Duration
	now      func() time.Time

	mu   sync.Mutex
	sets map[string]*keySet // by JWK Set URL

	replay replayGuard
}

// replayGuard remembers the ids of the tokens accepted until they expire:
// claim reports whether id is new. An error (the store cannot be reached)
// refuses the call without saying the token is bad.
type replayGuard interface {
	claim(ctx context.Context, id string, until, now time.Time) (bool, error)
}

// storeReplay keeps the ids in the store (ekbom.Store.ClaimTokenID), shared
// by every replica of the service over one database and without the
// in-memory cap.
type storeReplay struct{ s ekbom.Store }

func (r storeReplay) claim(ctx context.Context, id string, until, now time.Time) (bool, error) {
	return r.s.ClaimTokenID(ctx, id, until, now)
}

// keySet is one cached JWK Set.
type keySet struct {
	mu        sync.Mutex // held while fetching
	keys      map[string]*jwk
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch attempt
}

type jwk struct {
	kty, crv, alg string
	key           any // *ecdsa.PublicKey or *rsa.PublicKey
}

// checkJWKSURL accepts https URLs, and http only on a loopback address.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: want https (http only on a loopback address)", raw)
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newJWTVerifier(issuers []CDSIssuer, client *http.Client, timeout time.Duration, now func() time.Time) (*jwtVerifier, error) {
	v := &jwtVerifier{
		issuers: map[string]*CDSIssuer{}, client: client, timeout: timeout,
		skew: defaultClockSkew, lifetime: defaultTokenLifetime, now: now,
		sets: map[string]*keySet{}, replay: newReplayCache(replayCacheMax),
	}
	for i := range issuers {
		is := issuers[i]
		if strings.TrimSpace(is.Issuer) == "" {
			return nil, fmt.Errorf("web: CDS issuer %d: issuer is empty", i)
		}
		if _, dup := v.issuers[is.Issuer]; dup {
			return nil, fmt.Errorf("web: CDS issuer %q is listed twice", is.Issuer)
		}
		if len(is.JWKSURLs) == 0 {
			return nil, fmt.Errorf("web: CDS issuer %q has no jwks_urls", is.Issuer)
		}
		for _, u := range is.JWKSURLs {
			if err := checkJWKSURL(u); err != nil {
				return nil, fmt.Errorf("web: CDS issuer %q: jwks_urls: %w", is.Issuer, err)
			}
		}
		for _, u := range is.FHIRServers {
			if _, err := url.Parse(u); err != nil {
				return nil, fmt.Errorf("web: CDS issuer %q: fhir_servers: %q is not a URL", is.Issuer, u)
			}
		}
		v.issuers[is.Issuer] = &is
	}
	return v, nil
}

// verify checks the request's bearer token for the endpoint URL aud and
// returns the trusted issuer.
func (v *jwtVerifier) verify(ctx context.Context, r *http.Request, aud string) (*CDSIssuer, error) {
	authz := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return nil, rejectf("no bearer token")
	}
	if len(raw) > 16<<10 {
		return nil, rejectf("token too long")
	}
	var issuer *CDSIssuer
	parser := jwt.NewParser(
		jwt.WithValidMethods(jwtAlgorithms),
		jwt.WithLeeway(v.skew),
		jwt.WithAudience(aud),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(v.now),
	)
	claims := &jwt.RegisteredClaims{}
	_, err := parser.ParseWithClaims(strings.TrimSpace(raw), claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, rejectf("no kid")
		}
		if typ, ok := t.Header["typ"]; ok {
			if s, _ := typ.(string); !strings.EqualFold(s, "JWT") {
				return nil, rejectf("typ is not JWT")
			}
		}
		iss := claims.Issuer
		is, ok := v.issuers[iss]
		if !ok || iss == "" {
			return nil, rejectf("untrusted issuer")
		}
		urls := is.JWKSURLs
		if jku, present := t.Header["jku"]; present {
			s, _ := jku.(string)
			if !contains(is.JWKSURLs, s) {
				return nil, rejectf("jku not allow-listed for the issuer")
			}
			urls = []string{s}
		}
		alg := t.Method.Alg()
		k, err := v.key(ctx, urls, kid)
		if err != nil {
			return nil, err
		}
		if k.alg != "" && k.alg != alg {
			return nil, rejectf("key alg %s does not match header alg %s", k.alg, alg)
		}
		if !keyFits(k, alg) {
			return nil, rejectf("key type %s/%s does not fit alg %s", k.kty, k.crv, alg)
		}
		issuer = is
		return k.key, nil
	})
	if err != nil {
		return nil, reasonOf(err)
	}
	if issuer == nil {
		return nil, rejectf("no issuer")
	}
	now := v.now()
	switch {
	case claims.ID == "":
		return nil, rejectf("no jti")
	case len(claims.ID) > 256:
		return nil, rejectf("jti too long")
	case claims.IssuedAt == nil:
		return nil, rejectf("no iat")
	case claims.ExpiresAt.Sub(now) > v.lifetime+v.skew:
		return nil, rejectf("exp more than %s ahead", v.lifetime)
	}
	fresh, err := v.replay.claim(ctx, issuer.Issuer+"\x00"+claims.ID, claims.ExpiresAt.Add(v.skew), now)
	if err != nil {
		return nil, fmt.Errorf("web: replay check: %w", err) // not a rejection: 503
	}
	if !fresh {
		return nil, rejectf("jti replayed (or the replay cache is full)")
	}
	return issuer, nil
}

// keyFits reports whether key k can verify algorithm alg.
func keyFits(k *jwk, alg string) bool {
	switch alg {
	case "ES256":
		return k.kty == "EC" && k.crv == "P-256"
	case "ES384":
		return k.kty == "EC" && k.crv == "P-384"
	case "ES512":
		return k.kty == "EC" && k.crv == "P-521"
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return k.kty == "RSA"
	}
	return false
}

// key finds the key kid in the JWK Sets at urls, fetching a set when it is
// not cached, stale, or lacks kid (at most once a minute per URL).
func (v *jwtVerifier) key(ctx context.Context, urls []string, kid string) (*jwk, error) {
	var lastErr error
	for _, u := range urls {
		v.mu.Lock()
		ks := v.sets[u]
		if ks == nil {
			ks = &keySet{}
			v.sets[u] = ks
		}
		v.mu.Unlock()

		ks.mu.Lock()
		now := v.now()
		k := ks.keys[kid]
		stale := ks.keys == nil || now.Sub(ks.fetched) > jwksMaxAge
		if (k == nil || stale) && now.Sub(ks.attempted) >= jwksRefetchInterval {
			ks.attempted = now
			keys, err := v.fetch(ctx, u)
			if err != nil {
				lastErr = err
			} else {
				ks.keys, ks.fetched = keys, now
				k = keys[kid]
			}
		}
		ks.mu.Unlock()
		if k != nil {
			return k, nil
		}
	}
	if lastErr != nil {
		return nil, rejectf("unknown kid (JWK Set fetch failed: %v)", lastErr)
	}
	return nil, rejectf("unknown kid")
}

// fetch downloads and parses a JWK Set within the verifier's timeout.
func (v *jwtVerifier) fetch(ctx context.Context, u string) (map[string]*jwk, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get JWK Set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get JWK Set: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksBodyLimit+1))
	if err != nil {
		return nil, fmt.Errorf("read JWK Set: %w", err)
	}
	if len(body) > jwksBodyLimit {
		return nil, errors.New("JWK Set larger than 256 KiB")
	}
	return parseJWKS(body)
}

// parseJWKS reads the public signing keys of a JWK Set (RFC 7517), keyed by
// kid. Keys without kid, for encryption, of other types, or RSA keys under
// 2048 bits are left out.
func parseJWKS(data []byte) (map[string]*jwk, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWK Set: %w", err)
	}
	out := map[string]*jwk{}
	b64 := base64.RawURLEncoding
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		switch k.Kty {
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			case "P-521":
				curve = elliptic.P521()
			default:
				continue
			}
			x, err1 := b64.DecodeString(k.X)
			y, err2 := b64.DecodeString(k.Y)
			size := (curve.Params().BitSize + 7) / 8
			if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
				continue
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
			if err != nil {
				continue // not a point on the curve
			}
			out[k.Kid] = &jwk{kty: "EC", crv: k.Crv, alg: k.Alg, key: pub}
		case "RSA":
			n, err1 := b64.DecodeString(k.N)
			e, err2 := b64.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
				continue
			}
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
				continue
			}
			out[k.Kid] = &jwk{kty: "RSA", alg: k.Alg, key: pub}
		}
	}
	return out, nil
}

// replayCache remembers the token ids seen until their tokens expire. It
// holds at most max entries; when full of unexpired ids it refuses new ones
// (fail closed) rather than forget one that could be replayed.
type replayCache struct {
	mu        sync.Mutex
	max       int
	seen      map[string]time.Time // id → until
	nextPrune time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: map[string]time.Time{}}
}

func (c *replayCache) claim(_ context.Context, id string, until, now time.Time) (bool, error) {
	return c.add(id, until, now), nil
}

// add records id until the given time and reports whether it is new.
func (c *replayCache) add(id string, until, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.nextPrune) || len(c.seen) >= c.max {
		for k, t := range c.seen {
			if now.After(t) {
				delete(c.seen, k)
			}
		}
		c.nextPrune = now.Add(time.Minute)
	}
	if t, ok := c.seen[id]; ok && !now.After(t) {
		return false
	}
	if len(c.seen) >= c.max {
		return false
	}
	c.seen[id] = until
	return true
}
