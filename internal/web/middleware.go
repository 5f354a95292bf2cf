package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Body limits: HTML forms are small; API bodies may carry a full record.
const (
	formBodyLimit = 1 << 20
	apiBodyLimit  = 4 << 20
)

// ContentSecurityPolicy is sent with every response. No inline script or
// style is allowed, so templates use classes and static/app.js only.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// chain wraps h in middleware, the first listed outermost.
func chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

type ctxKey int

const (
	infoKey ctxKey = iota
	principalKey
)

// reqInfo is per-request state shared between the middleware and the
// handlers: the route pattern the mux chose and the request id.
type reqInfo struct {
	id    string
	route string
}

func infoFrom(ctx context.Context) *reqInfo {
	info, _ := ctx.Value(infoKey).(*reqInfo)
	return info
}

func requestIDFrom(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// requestID gives every request an id: the caller's X-Request-ID when it is
// short and plain, a random one otherwise. It is echoed in the response.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !plainID(id) {
			var b [12]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		info := &reqInfo{id: id, route: "unmatched"}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey, info)))
	})
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// statusWriter records the status code and the bytes written.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe writes the access log and the request metrics. The log holds the
// route pattern, never the path, query or body: paths carry record ids and
// queries carry search terms such as names.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		info := infoFrom(r.Context())
		s.metrics.observeRequest(info.route, r.Method, sw.status, d)
		s.log.LogAttrs(r.Context(), levelFor(sw.status), "request",
			slogString("request_id", info.id),
			slogString("method", r.Method),
			slogString("route", info.route),
			slogInt("status", sw.status),
			slogInt("bytes", sw.bytes),
			slogFloat("duration_ms", float64(d.Microseconds())/1000),
		)
	})
}

// securityHeaders sets the headers every response carries. Pages are never
// cached (they show patient data); static assets override Cache-Control.
// With SecureCookies (served over HTTPS) browsers are also told to keep to
// HTTPS.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if isCDS(r) {
			setCORS(h)
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanic turns a panic into a 500 and logs it with the stack. The
// panic value is logged only for runtime errors, whose text holds no data.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			what := fmt.Sprintf("%T", v)
			if re, ok := v.(runtime.Error); ok {
				what = re.Error()
			}
			s.log.Error("panic", "request_id", requestIDFrom(r.Context()), "panic", what, "stack", string(debug.Stack()))
			s.metrics.panics.Add(1)
			if isCDS(r) {
				writeJSON(w, http.StatusInternalServerError, cdsInternalError)
				return
			}
			if isAPI(r) {
				s.apiError(w, r, http.StatusInternalServerError, "internal", "internal error", nil)
				return
			}
			s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong. The error has been logged.")
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies: 1 MiB for forms, 4 MiB for the API and
// CDS Hooks calls (a prefetch can be large). A
// declared length over the limit is refused at once with 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(formBodyLimit)
		if isAPI(r) || isCDS(r) {
			limit = apiBodyLimit
		}
		if r.ContentLength > limit {
			s.tooLarge(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	if isCDS(r) {
		writeJSON(w, http.StatusRequestEntityTooLarge, cdsOutcome("too-long", "the request body is larger than 4 MiB"))
		return
	}
	if isAPI(r) {
		s.apiError(w, r, http.StatusRequestEntityTooLarge, "too_large", "request body too large", nil)
		return
	}
	s.errorPage(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
}

// isTooLarge reports whether err comes from reading past the body limit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// deadline bounds each request's work with a context deadline; store calls
// fail with context.DeadlineExceeded when it passes.
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func contextTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/")
}

// isCDS reports whether r is a CDS Hooks call (discovery, a service or its
// feedback); the plan pages under /cds-plans/ are ordinary pages.
func isCDS(r *http.Request) bool {
	return r.URL.Path == "/cds-services" || strings.HasPrefix(r.URL.Path, "/cds-services/")
}
