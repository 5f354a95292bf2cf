package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"ekbom"
)

// Cookie names.
const (
	sessionCookie = "ekbom_session"
	loginCSRF     = "ekbom_login_csrf" // double-submit token of the sign-in form
)

// principal is who makes a request: a signed-in user with a session, or a
// user calling the API with a bearer token.
type principal struct {
	user        *ekbom.User
	session     *ekbom.Session // nil for token calls
	sessionHash string
	token       *ekbom.APIToken // nil for session calls
}

// actor names the principal in the audit log.
func (p *principal) actor() string {
	if p == nil {
		return "anonymous"
	}
	if p.token != nil {
		return "token:" + p.user.Username + "/" + p.token.Name
	}
	return p.user.Username
}

func (p *principal) csrf() string {
	if p == nil || p.session == nil {
		return ""
	}
	return p.session.CSRF
}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey).(*principal)
	return p
}

func withPrincipal(r *http.Request, p *principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey, p))
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("web: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is the hex SHA-256 of a session cookie or API token. Only the
// hash is stored, so a copy of the database grants no access.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func equalSecret(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// safeMethod reports whether the method cannot change state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sessionPrincipal returns the signed-in user of r's session cookie, or nil.
// It ends sessions past their absolute expiry, idle for longer than the idle
// limit or belonging to a disabled user. Idle time is tracked in memory; a
// session with no record in this process counts from its creation, so a
// restart ends idle sessions rather than extending them.
func (s *Server) sessionPrincipal(r *http.Request) (*principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) != 43 {
		return nil, nil
	}
	hash := tokenHash(c.Value)
	sess, err := s.store.GetSession(r.Context(), hash)
	if errors.Is(err, ekbom.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	last, ok := s.lastSeen[hash]
	if !ok {
		last = sess.CreatedAt
	}
	expired := !now.Before(sess.ExpiresAt) || now.Sub(last) > s.idle
	if expired {
		delete(s.lastSeen, hash)
	} else {
		s.lastSeen[hash] = now
	}
	s.mu.Unlock()
	if expired {
		s.store.DeleteSession(r.Context(), hash)
		return nil, nil
	}
	u, err := s.store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, ekbom.ErrNotFound) || (err == nil && u.Disabled) {
		s.store.DeleteSession(r.Context(), hash)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &principal{user: u, session: sess, sessionHash: hash}, nil
}

// bearerPrincipal returns the user of r's API token. ok is false when r has
// no Authorization header; p is nil when the token is unknown or its user
// is disabled.
func (s *Server) bearerPrincipal(r *http.Request) (p *principal, ok bool, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, false, nil
	}
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 256 {
		return nil, true, nil
	}
	t, err := s.store.GetAPITokenByHash(r.Context(), tokenHash(tok))
	if errors.Is(err, ekbom.ErrNotFound) {
		return nil, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	u, err := s.store.GetUser(r.Context(), t.UserID)
	if errors.Is(err, ekbom.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, true, nil
	}
	if err != nil {
		return nil, true, err
	}
	now := s.now()
	if t.LastUsed == nil || now.Sub(*t.LastUsed) > time.Minute {
		if err := s.store.TouchAPIToken(r.Context(), t.ID, now); err != nil {
			s.log.Warn("touch api token", "request_id", requestIDFrom(r.Context()), "err", err)
		}
	}
	return &principal{user: u, token: t}, true, nil
}

// requirePage lets signed-in users through to h. Others are sent to the
// sign-in page with a next link. A state-changing request must carry the
// session's CSRF token in the form field "csrf"; otherwise it is refused
// with 403 before h runs.
func (s *Server) requirePage(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.sessionPrincipal(r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if p == nil {
			next := r.URL.Path
			if r.Method == http.MethodGet && r.URL.RawQuery != "" {
				next += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if !safeMethod(r.Method) {
			if err := r.ParseForm(); err != nil {
				if isTooLarge(err) {
					s.tooLarge(w, r)
					return
				}
				s.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !equalSecret(r.PostForm.Get("csrf"), p.session.CSRF) {
				s.errorPage(w, r, http.StatusForbidden, "The form has expired or did not come from this site. Reload the page and try again.")
				return
			}
		}
		h(w, withPrincipal(r, p))
	}
}

// requireAdmin lets only administrators through; it runs inside requirePage.
func (s *Server) requireAdmin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p := principalFrom(r.Context()); p == nil || p.user.Role != ekbom.RoleAdmin {
			s.errorPage(w, r, http.StatusForbidden, "This page is for administrators.")
			return
		}
		h(w, r)
	}
}

// requireAPI authenticates an API call by bearer token or, failing that, by
// session cookie; a state-changing call on a session must send the session's
// CSRF token in X-CSRF-Token. Unauthenticated calls get 401.
func (s *Server) requireAPI(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, hasBearer, err := s.bearerPrincipal(r)
		if err == nil && !hasBearer {
			p, err = s.sessionPrincipal(r)
			if err == nil && p != nil && !safeMethod(r.Method) && !equalSecret(r.Header.Get("X-CSRF-Token"), p.session.CSRF) {
				s.apiError(w, r, http.StatusForbidden, "forbidden", "missing or wrong X-CSRF-Token header", nil)
				return
			}
		}
		if err != nil {
			s.apiServerError(w, r, err)
			return
		}
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ekbom"`)
			s.apiError(w, r, http.StatusUnauthorized, "unauthorized", "sign in or send Authorization: Bearer <token>", nil)
			return
		}
		h(w, withPrincipal(r, p))
	}
}

// throttle slows password guessing per username: after the third failure in
// a row each further attempt must wait 1 s, 2 s, 4 s, … up to 15 minutes.
// Attempts while blocked are refused without checking the password and do
// not lengthen the wait.
type throttle struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*attempts
}

type attempts struct {
	failures int
	until    time.Time
	last     time.Time
}

const (
	throttleFree    = 3
	throttleMaxWait = 15 * time.Minute
	throttleEntries = 10000
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, m: map[string]*attempts{}}
}

// wait returns how long username must still wait before trying again.
func (t *throttle) wait(username string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.m[username]
	if a == nil {
		return 0
	}
	return max(a.until.Sub(t.now()), 0)
}

func (t *throttle) fail(username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a := t.m[username]
	if a == nil {
		if len(t.m) >= throttleEntries {
			t.pruneLocked(now)
		}
		if len(t.m) >= throttleEntries {
			for k := range t.m { // evict one arbitrary entry
				delete(t.m, k)
				break
			}
		}
		a = &attempts{}
		t.m[username] = a
	}
	a.failures++
	a.last = now
	if n := a.failures - throttleFree; n >= 0 {
		wait := throttleMaxWait
		if n < 20 {
			wait = min(time.Second<<n, throttleMaxWait)
		}
		a.until = now.Add(wait)
	}
}

func (t *throttle) reset(username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, username)
}

// prune forgets usernames whose last failure is a day old.
func (t *throttle) prune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked(t.now())
}

func (t *throttle) pruneLocked(now time.Time) {
	for k, a := range t.m {
		if now.Sub(a.last) > 24*time.Hour && !now.Before(a.until) {
			delete(t.m, k)
		}
	}
}

// Sweep deletes expired sessions from the store and forgets stale in-memory
// state (idle times, login throttling). cmd/ekbom calls it periodically.
func (s *Server) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	s.mu.Lock()
	for h, last := range s.lastSeen {
		if now.Sub(last) > s.idle {
			delete(s.lastSeen, h)
		}
	}
	s.mu.Unlock()
	s.throttle.prune()
	return s.store.DeleteExpiredSessions(ctx, now)
}
