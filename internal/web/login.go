package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"ekbom"
)

type loginData struct {
	CSRF     string
	Next     string
	Username string
	Error    string
}

// safeNext returns next when it is a local path, and /patients otherwise,
// so the sign-in page cannot redirect off-site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/patients"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/login") || strings.HasPrefix(u.Path, "/logout") {
		return "/patients"
	}
	return next
}

// loginCSRFToken returns the pre-session CSRF token from the cookie, setting
// a new cookie when there is none.
func (s *Server) loginCSRFToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCSRF); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := randomToken(32)
	http.SetCookie(w, &http.Cookie{
		Name: loginCSRF, Value: tok, Path: "/login", HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600,
	})
	return tok
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if p, _ := s.sessionPrincipal(r); p != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d := loginData{CSRF: s.loginCSRFToken(w, r), Next: safeNext(r.URL.Query().Get("next"))}
	s.render(w, r, http.StatusOK, "login", "Sign in", "", d)
}

// dummyHash is verified against when the username is unknown, so that a
// wrong username takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not a password, only a timing shield")
	return h
})

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		if isTooLarge(err) {
			s.tooLarge(w, r)
			return
		}
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	c, err := r.Cookie(loginCSRF)
	if err != nil || !equalSecret(c.Value, r.PostForm.Get("csrf")) {
		s.errorPage(w, r, http.StatusForbidden, "The sign-in form has expired. Reload the page and try again.")
		return
	}
	username := strings.ToLower(strings.TrimSpace(r.PostForm.Get("username")))
	password := r.PostForm.Get("password")
	d := loginData{CSRF: c.Value, Next: safeNext(r.PostForm.Get("next")), Username: username}
	if len(username) > 64 {
		username = username[:64]
	}

	failed := func(status int, u *ekbom.User, reason, msg string) {
		s.metrics.loginFailures.Add(1)
		e := ekbom.AuditEntry{At: s.now(), Actor: "anonymous", Action: "login_failed", Entity: "user", Detail: reason}
		if u != nil {
			e.Actor, e.EntityID = u.Username, u.ID
		}
		if err := s.store.AppendAudit(r.Context(), e); err != nil {
			s.serverError(w, r, err)
			return
		}
		d.Error = msg
		s.render(w, r, status, "login", "Sign in", "", d)
	}

	if wait := s.throttle.wait(username); wait > 0 {
		u, _ := s.store.GetUserByUsername(r.Context(), username)
		secs := int(math.Ceil(wait.Seconds()))
		failed(http.StatusTooManyRequests, u, "throttled",
			fmt.Sprintf("Too many failed attempts for this username. Try again in %d seconds.", secs))
		return
	}
	u, err := s.store.GetUserByUsername(r.Context(), username)
	if err != nil && !errors.Is(err, ekbom.ErrNotFound) {
		s.serverError(w, r, err)
		return
	}
	hash := dummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	s.hashSem <- struct{}{}
	ok, verr := VerifyPassword(hash, password)
	<-s.hashSem
	const wrong = "Wrong username or password."
	switch {
	case u == nil:
		s.throttle.fail(username)
		failed(http.StatusUnauthorized, nil, "unknown username", wrong)
		return
	case verr != nil:
		s.log.Error("stored password hash is malformed", "request_id", requestIDFrom(r.Context()), "user_id", u.ID)
		failed(http.StatusUnauthorized, u, "unusable password hash", wrong)
		return
	case !ok:
		s.throttle.fail(username)
		failed(http.StatusUnauthorized, u, "wrong password", wrong)
		return
	case u.Disabled:
		failed(http.StatusUnauthorized, u, "account disabled", wrong)
		return
	}
	s.throttle.reset(username)

	tok := randomToken(32)
	now := s.now()
	sess := &ekbom.Session{TokenHash: tokenHash(tok), UserID: u.ID, CSRF: randomToken(32), CreatedAt: now, ExpiresAt: now.Add(s.ttl)}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.mu.Lock()
	s.lastSeen[sess.TokenHash] = now
	s.mu.Unlock()
	if err := s.store.AppendAudit(r.Context(), ekbom.AuditEntry{At: now, Actor: u.Username, Action: "login", Entity: "user", EntityID: u.ID}); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	http.SetCookie(w, &http.Cookie{Name: loginCSRF, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if err := s.store.DeleteSession(r.Context(), p.sessionHash); err != nil && !errors.Is(err, ekbom.ErrNotFound) {
		s.serverError(w, r, err)
		return
	}
	s.mu.Lock()
	delete(s.lastSeen, p.sessionHash)
	s.mu.Unlock()
	if err := s.audit(r, "logout", "user", p.user.ID, ""); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
