package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"ekbom"
	"ekbom/internal/report"
)

// pageTemplate is one page parsed with the shared layout and partials.
type pageTemplate struct {
	t    *template.Template
	root string // template to execute
}

// view is what every page template receives.
type view struct {
	Title     string
	User      *ekbom.User
	CSRF      string
	Nav       string // active navigation item
	RequestID string
	Data      any
}

// IsAdmin reports whether the signed-in user is an administrator.
func (v view) IsAdmin() bool { return v.User != nil && v.User.Role == ekbom.RoleAdmin }

var funcs = template.FuncMap{
	"human": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
	"badge": report.Badge,
	"join":  strings.Join,
	"disclaimer": func() string {
		return report.Disclaimer
	},
	"num": func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) },
	"fixed1": func(x float64) string {
		return strconv.FormatFloat(x, 'f', 1, 64)
	},
	"numptr": func(x *float64) string {
		if x == nil {
			return ""
		}
		return strconv.FormatFloat(*x, 'f', -1, 64)
	},
	"intptr": func(x *int) string {
		if x == nil {
			return "?"
		}
		return strconv.Itoa(*x)
	},
	"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"seq": func(from, to int) []int {
		var out []int
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	},
	"add":  func(a, b int) int { return a + b },
	"list": func(s ...string) []string { return s },
	"addf": func(a, b float64) float64 { return a + b },
	"subf": func(a, b float64) float64 { return a - b },
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, errors.New("dict: key is not a string")
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"contains": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"eqs": func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
}

// parsePages parses every page in templates/ with layout.html and
// partials.html. A page file named *.page.html is a full page; the handout
// has its own layout.
func parsePages() (map[string]*pageTemplate, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*pageTemplate{}
	for _, f := range files {
		name := path.Base(f)
		if name == "layout.html" || name == "partials.html" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", f)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		root := "layout"
		if t.Lookup("standalone") != nil {
			root = "standalone"
		}
		pages[strings.TrimSuffix(name, ".html")] = &pageTemplate{t: t, root: root}
	}
	return pages, nil
}

// render writes page name with status. It renders into a buffer first so a
// template error becomes a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	pt := s.pages[name]
	if pt == nil {
		s.serverError(w, r, fmt.Errorf("no page %q", name))
		return
	}
	v := view{Title: title, Nav: nav, RequestID: requestIDFrom(r.Context()), Data: data}
	if p := principalFrom(r.Context()); p != nil {
		v.User, v.CSRF = p.user, p.csrf()
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, pt.root, v); err != nil {
		s.log.Error("render", "request_id", v.RequestID, "page", name, "err", err)
		if name != "error" {
			s.errorPage(w, r, http.StatusInternalServerError, "The page could not be shown. The error has been logged.")
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Message string
}

// errorPage shows a message for people. The message is for users only:
// internal details go to the log.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", http.StatusText(status), "", errorData{Status: status, Message: msg})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "There is no such page.")
}

// serverError logs err and shows a generic 500 (or 503 on a deadline).
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong. The error has been logged."
	if errors.Is(err, context.DeadlineExceeded) {
		status, msg = http.StatusServiceUnavailable, "The server took too long. Try again."
	}
	s.log.Error("request failed", "request_id", requestIDFrom(r.Context()), "err", err)
	s.errorPage(w, r, status, msg)
}

// storeError maps a store error to a page: 404 for ErrNotFound, 409 for
// ErrConflict and 500 otherwise.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ekbom.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, "There is no such record.")
	case errors.Is(err, ekbom.ErrConflict):
		s.errorPage(w, r, http.StatusConflict, "Someone else changed this record meanwhile. Reload it and try again.")
	default:
		s.serverError(w, r, err)
	}
}

// apiErrorBody is the API's error shape.
type apiErrorBody struct {
	Error apiErrorDetail `json:"error"`
}

type apiErrorDetail struct {
	Code     string          `json:"code"`
	Message  string          `json:"message"`
	Problems []ekbom.Problem `json:"problems,omitempty"`
}

func (s *Server) apiError(w http.ResponseWriter, r *http.Request, status int, code, msg string, problems []ekbom.Problem) {
	writeJSON(w, status, apiErrorBody{Error: apiErrorDetail{Code: code, Message: msg, Problems: problems}})
}

func (s *Server) apiServerError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		s.apiError(w, r, http.StatusServiceUnavailable, "timeout", "the server took too long", nil)
		return
	}
	s.log.Error("request failed", "request_id", requestIDFrom(r.Context()), "err", err)
	s.apiError(w, r, http.StatusInternalServerError, "internal", "internal error (request "+requestIDFrom(r.Context())+")", nil)
}

// apiStoreError maps store errors for the API.
func (s *Server) apiStoreError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *ekbom.ValidationError
	switch {
	case errors.Is(err, ekbom.ErrNotFound):
		s.apiError(w, r, http.StatusNotFound, "not_found", "no such record", nil)
	case errors.Is(err, ekbom.ErrConflict):
		s.apiError(w, r, http.StatusConflict, "conflict", "the record was changed meanwhile or duplicates another (reload and retry)", nil)
	case errors.As(err, &ve):
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the record is invalid", ve.Problems)
	case errors.Is(err, ekbom.ErrInvalid):
		s.apiError(w, r, http.StatusUnprocessableEntity, "invalid", "the record is invalid", nil)
	default:
		s.apiServerError(w, r, err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer putJSONBuffer(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encoding failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// jsonBuffers are the buffers of writeJSON, reused: a CDS Hooks response is
// several kilobytes, grown in steps on every call otherwise.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putJSONBuffer returns buf to the pool, unless it grew beyond 256 KiB
// (a rare large response should not stay in memory).
func putJSONBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 256<<10 {
		return
	}
	buf.Reset()
	jsonBuffers.Put(buf)
}

// audit appends an audit entry for the request's principal. Callers fail
// closed: a view whose audit entry cannot be written is not shown. detail
// must never hold clinical data or names.
func (s *Server) audit(r *http.Request, action, entity, id, detail string) error {
	p := principalFrom(r.Context())
	e := ekbom.AuditEntry{At: s.now(), Actor: p.actor(), Action: action, Entity: entity, EntityID: id, Detail: detail}
	if err := s.store.AppendAudit(r.Context(), e); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, entity, err)
	}
	return nil
}
