// Package web serves ekbom's clinician UI, JSON API, CDS Hooks services and
// health/metrics endpoints.
//
// New builds a Server from a store, an engine and a logger; Handler returns
// the http.Handler to mount. The package binds no socket, reads no flags and
// no environment: cmd/ekbom wires it. Templates and static files are embedded
// and parsed once in New. Routes use the standard library's method and
// wildcard patterns ("GET /patients/{id}").
//
// Only this package maps errors to HTTP status codes: ekbom.ErrNotFound is
// 404, ekbom.ErrConflict 409, a *ekbom.ValidationError 400 (shape) or 422
// (content), anything else 500 with the detail logged and never shown.
package web

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"ekbom"
	"ekbom/cdshooks"
	"ekbom/engine"
	"ekbom/kb"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed openapi.json
var openAPI []byte

// Options configures a Server. Store and Engine are required; the zero value
// of every other field has the documented default.
type Options struct {
	Store  ekbom.Store
	Engine *engine.Engine
	// Logger receives the access log and errors, as structured records that
	// never hold patient data. Default: discard.
	Logger *slog.Logger
	// SecureCookies marks cookies Secure (serve over HTTPS).
	SecureCookies bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// SessionTTL is the absolute lifetime of a sign-in session. Default 12 h.
	SessionTTL time.Duration
	// SessionIdle ends a session unused for this long. Default 2 h, at most
	// SessionTTL.
	SessionIdle time.Duration
	// RequestTimeout bounds the work of one request (its context deadline).
	// Default 30 s.
	RequestTimeout time.Duration
	// CDS configures the CDS Hooks services under /cds-services. The zero
	// value serves them but accepts no caller (no trusted issuer).
	CDS CDSOptions
}

// Server is the web application. Its methods are safe for concurrent use.
type Server struct {
	store   ekbom.Store
	engine  *engine.Engine
	kb      *kb.Base
	log     *slog.Logger
	now     func() time.Time
	secure  bool
	ttl     time.Duration
	idle    time.Duration
	timeout time.Duration

	pages    map[string]*pageTemplate
	metrics  *metrics
	throttle *throttle
	hashSem  chan struct{} // bounds concurrent argon2id work (64 MiB each)

	mu       sync.Mutex
	lastSeen map[string]time.Time // session token hash -> last request

	mux       *http.ServeMux
	patterns  []string // every registered pattern, for tests
	apiRoutes []string // "METHOD /api/…" patterns, for the OpenAPI test
	handler   http.Handler
	irlsBands []irlsBand
	cds       *cdsService
}

// New returns a Server for opt. It parses the embedded templates once.
func New(opt Options) (*Server, error) {
	if opt.Store == nil {
		return nil, errors.New("web: Options.Store is nil")
	}
	if opt.Engine == nil {
		return nil, errors.New("web: Options.Engine is nil")
	}
	s := &Server{
		store:    opt.Store,
		engine:   opt.Engine,
		kb:       opt.Engine.KB(),
		log:      opt.Logger,
		now:      opt.Now,
		secure:   opt.SecureCookies,
		ttl:      opt.SessionTTL,
		idle:     opt.SessionIdle,
		timeout:  opt.RequestTimeout,
		metrics:  newMetrics(),
		hashSem:  make(chan struct{}, 4),
		lastSeen: map[string]time.Time{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = 12 * time.Hour
	}
	if s.idle <= 0 {
		s.idle = 2 * time.Hour
	}
	s.idle = min(s.idle, s.ttl)
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	s.throttle = newThrottle(s.now)
	bands, err := loadIRLSBands(s.kb)
	if err != nil {
		return nil, err
	}
	s.irlsBands = bands
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.pages["cds_plan"], err = parseCDSPlanPage(); err != nil {
		return nil, err
	}
	if s.cds, err = newCDSService(opt.CDS, cdshooks.Services(s.kb), opt.Store, s.now); err != nil {
		return nil, err
	}
	switch {
	case opt.CDS.Insecure:
		s.log.Warn("CDS Hooks JWT verification is OFF (-cds-insecure-no-auth): any caller is accepted. For local development only; never expose this server.")
	case len(opt.CDS.Issuers) == 0:
		s.log.Info("CDS Hooks: no trusted issuers configured; every call to /cds-services is refused with 401")
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.handler = chain(s.mux,
		s.requestID,
		s.observe,
		s.securityHeaders,
		s.recoverPanic,
		s.limitBody,
		s.deadline,
	)
	return s, nil
}

// Handler returns the root handler: every route behind the middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// handle registers h for pattern and records the pattern as the request's
// route for logs and metrics.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	route := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		route = path
	}
	if strings.HasPrefix(route, "/api/") && route != "/api/" {
		s.apiRoutes = append(s.apiRoutes, pattern)
	}
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			info.route = route
		}
		h(w, r)
	}))
}

func (s *Server) routes() {
	// Public.
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /metrics", s.serveMetrics)
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(static))
	s.handle("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	})
	s.handle("GET /login", s.loginPage)
	s.handle("POST /login", s.loginSubmit)
	s.handle("GET /api/openapi.json", s.openAPIDoc)
	s.handle("GET /fhir/Questionnaire/ekbom-rls", s.questionnaire)

	// Signed-in pages.
	page := func(pattern string, h http.HandlerFunc) { s.handle(pattern, s.requirePage(h)) }
	admin := func(pattern string, h http.HandlerFunc) { s.handle(pattern, s.requirePage(s.requireAdmin(h))) }
	page("POST /logout", s.logout)
	page("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/patients", http.StatusSeeOther)
	})
	page("GET /patients", s.patientList)
	page("GET /patients/new", s.patientNew)
	page("POST /patients", s.patientCreate)
	page("GET /patients/{id}", s.patientView)
	page("GET /patients/{id}/edit", s.patientEdit)
	page("POST /patients/{id}/edit", s.patientUpdate)
	admin("POST /patients/{id}/delete", s.patientDelete)
	page("GET /patients/{id}/visits/new", s.visitNew)
	page("POST /patients/{id}/visits", s.visitCreate)
	page("GET /patients/{id}/visits/import", s.visitImportForm)
	page("POST /patients/{id}/visits/import", s.visitImportSubmit)
	page("GET /visits/{id}", s.visitView)
	page("GET /visits/{id}/edit", s.visitEdit)
	page("POST /visits/{id}/edit", s.visitUpdate)
	page("POST /visits/{id}/delete", s.visitDelete)
	page("POST /visits/{id}/assess", s.visitAssess)
	page("GET /assessments/{id}", s.assessmentView)
	page("GET /assessments/{id}/handout", s.assessmentHandout)
	page("GET /tools/taper", s.toolTaper)
	page("GET /tools/iron", s.toolIron)
	page("GET /kb", s.kbSummary)
	page("GET /kb/recommendations", s.kbRecommendations)
	page("GET /kb/rules", s.kbRules)
	page("GET /kb/drugs", s.kbDrugs)
	page("GET /kb/drugs/{id}", s.kbDrug)
	page("GET /kb/sources", s.kbSources)
	page("GET /kb/conflicts", s.kbConflicts)
	page("GET /kb/thresholds", s.kbThresholds)
	page("GET /account/tokens", s.tokenList)
	page("POST /account/tokens", s.tokenCreate)
	page("POST /account/tokens/{id}/delete", s.tokenDelete)
	admin("GET /admin/users", s.userList)
	admin("POST /admin/users", s.userCreate)
	admin("POST /admin/users/{id}/disable", s.userDisable)
	admin("POST /admin/users/{id}/enable", s.userEnable)
	admin("GET /audit", s.auditList)

	// JSON API.
	api := func(pattern string, h http.HandlerFunc) { s.handle(pattern, s.requireAPI(h)) }
	api("POST /api/assess", s.apiAssess)
	api("GET /api/patients", s.apiPatientList)
	api("POST /api/patients", s.apiPatientCreate)
	api("GET /api/patients/{id}", s.apiPatientGet)
	api("PUT /api/patients/{id}", s.apiPatientUpdate)
	api("DELETE /api/patients/{id}", s.apiPatientDelete)
	api("GET /api/patients/{id}/visits", s.apiVisitList)
	api("POST /api/patients/{id}/visits", s.apiVisitCreate)
	api("POST /api/patients/{id}/visits/fhir", s.apiVisitImport)
	api("GET /api/visits/{id}", s.apiVisitGet)
	api("PUT /api/visits/{id}", s.apiVisitUpdate)
	api("DELETE /api/visits/{id}", s.apiVisitDelete)
	api("POST /api/visits/{id}/assess", s.apiVisitAssess)
	api("GET /api/patients/{id}/assessments", s.apiAssessmentList)
	api("GET /api/assessments/{id}", s.apiAssessmentGet)
	s.handle("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.apiError(w, r, http.StatusNotFound, "not_found", "no such API route", nil)
	})

	// CDS Hooks.
	s.cdsRoutes()

	s.handle("/", s.notFound)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := contextTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.store.Ping(ctx); err != nil {
		s.log.Error("health check failed", "request_id", requestIDFrom(r.Context()), "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable"}` + "\n"))
		return
	}
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

func (s *Server) openAPIDoc(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

// today is the server's current date.
func (s *Server) today() ekbom.Date { return ekbom.DateFromTime(s.now()) }
