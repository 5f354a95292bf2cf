package web

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"ekbom"
)

// API token format: a recognisable prefix and 32 random bytes.
const tokenPrefix = "ekb_"

type tokensData struct {
	Tokens  []ekbom.APIToken
	New     string // the token just created, shown once
	NewName string
	Error   string
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request, status int, d tokensData) {
	p := principalFrom(r.Context())
	list, err := s.store.ListAPITokens(r.Context(), p.user.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Tokens = list
	s.render(w, r, status, "tokens", "API tokens", "account", d)
}

func (s *Server) tokenList(w http.ResponseWriter, r *http.Request) {
	s.tokensPage(w, r, http.StatusOK, tokensData{})
}

// tokenCreate makes an API token for the signed-in user and shows it once;
// only its SHA-256 is stored.
func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if n := utf8.RuneCountInString(name); n == 0 || n > 64 {
		s.tokensPage(w, r, http.StatusUnprocessableEntity, tokensData{Error: "Give the token a name of 1 to 64 characters (e.g. the system that will use it)."})
		return
	}
	tok := tokenPrefix + randomToken(32)
	t := &ekbom.APIToken{UserID: p.user.ID, Name: name, Hash: tokenHash(tok), CreatedAt: s.now()}
	if err := s.store.CreateAPIToken(r.Context(), t); err != nil {
		if errors.Is(err, ekbom.ErrConflict) {
			s.tokensPage(w, r, http.StatusConflict, tokensData{Error: "You already have a token with this name."})
			return
		}
		s.serverError(w, r, err)
		return
	}
	if err := s.audit(r, "create", "token", t.ID, ""); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.tokensPage(w, r, http.StatusOK, tokensData{New: tok, NewName: name})
}

func (s *Server) tokenDelete(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	id := r.PathValue("id")
	list, err := s.store.ListAPITokens(r.Context(), p.user.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	owned := false
	for _, t := range list {
		owned = owned || t.ID == id
	}
	if !owned {
		s.notFound(w, r)
		return
	}
	if err := s.store.DeleteAPIToken(r.Context(), id); err != nil {
		s.storeError(w, r, err)
		return
	}
	if err := s.audit(r, "delete", "token", id, ""); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/tokens", http.StatusSeeOther)
}

type usersData struct {
	Users  []ekbom.User
	Form   userForm
	Errors *fieldErrors
	Done   string
}

type userForm struct {
	Username, Name, Role string
}

var usernameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

// ValidUsername reports whether name is an acceptable username: 2–64
// characters, lower-case letters, digits, dot, underscore or hyphen.
func ValidUsername(name string) bool { return usernameRe.MatchString(name) }

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, status int, d usersData) {
	list, err := s.store.ListUsers(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.Users = list
	if d.Errors == nil {
		d.Errors = &fieldErrors{}
	}
	if d.Form.Role == "" {
		d.Form.Role = string(ekbom.RoleClinician)
	}
	s.render(w, r, status, "users", "Users", "admin", d)
}

func (s *Server) userList(w http.ResponseWriter, r *http.Request) {
	s.usersPage(w, r, http.StatusOK, usersData{})
}

func (s *Server) userCreate(w http.ResponseWriter, r *http.Request) {
	f := userForm{
		Username: strings.ToLower(strings.TrimSpace(r.PostForm.Get("username"))),
		Name:     strings.TrimSpace(r.PostForm.Get("name")),
		Role:     r.PostForm.Get("role"),
	}
	e := &fieldErrors{}
	if !ValidUsername(f.Username) {
		e.add("username", "Username", "2–64 characters: lower-case letters, digits, dot, underscore or hyphen")
	}
	if utf8.RuneCountInString(f.Name) > 200 {
		e.add("name", "Name", "at most 200 characters")
	}
	role := ekbom.Role(f.Role)
	if role != ekbom.RoleClinician && role != ekbom.RoleAdmin {
		e.add("role", "Role", "choose clinician or admin")
	}
	hash, err := HashPassword(r.PostForm.Get("password"))
	if err != nil {
		e.add("password", "Password", ErrWeakPassword.Error())
	}
	if e.Any() {
		s.usersPage(w, r, http.StatusUnprocessableEntity, usersData{Form: f, Errors: e})
		return
	}
	u := &ekbom.User{Username: f.Username, Name: f.Name, Role: role, PasswordHash: hash, CreatedAt: s.now()}
	if err := s.store.CreateUser(r.Context(), u); err != nil {
		if errors.Is(err, ekbom.ErrConflict) {
			e.add("username", "Username", "this username is taken")
			s.usersPage(w, r, http.StatusConflict, usersData{Form: f, Errors: e})
			return
		}
		s.serverError(w, r, err)
		return
	}
	if err := s.audit(r, "create", "user", u.ID, "role "+string(role)); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.usersPage(w, r, http.StatusOK, usersData{Done: "User " + u.Username + " created."})
}

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	p := principalFrom(r.Context())
	u, err := s.store.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if u.ID == p.user.ID && disabled {
		s.usersPage(w, r, http.StatusUnprocessableEntity, usersData{Errors: &fieldErrors{Summary: []ekbom.Problem{{Path: "User", Message: "you cannot disable your own account"}}}})
		return
	}
	u.Disabled = disabled
	if err := s.store.UpdateUser(r.Context(), u); err != nil {
		s.storeError(w, r, err)
		return
	}
	detail := "enabled"
	if disabled {
		detail = "disabled"
	}
	if err := s.audit(r, "update", "user", u.ID, detail); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (s *Server) userDisable(w http.ResponseWriter, r *http.Request) { s.setDisabled(w, r, true) }
func (s *Server) userEnable(w http.ResponseWriter, r *http.Request)  { s.setDisabled(w, r, false) }

type auditData struct {
	Filter  ekbom.AuditFilter
	Entries []ekbom.AuditEntry
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ekbom.AuditFilter{Entity: q.Get("entity"), EntityID: strings.TrimSpace(q.Get("entity_id")), Actor: strings.TrimSpace(q.Get("actor")), Limit: 200}
	list, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "audit", "Audit log", "admin", auditData{Filter: f, Entries: list})
}
