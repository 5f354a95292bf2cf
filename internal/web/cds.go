package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"ekbom"
	"ekbom/cdshooks"
)

// CDS Hooks 2.0 (package cdshooks holds the wire types and the mapping):
//
//	GET  /cds-services                  discovery
//	POST /cds-services/{id}             patient-view, order-select, order-sign
//	POST /cds-services/{id}/feedback    accepted / overridden cards
//	OPTIONS /cds-services/…             CORS preflight
//	GET  /cds-plans/{id}                the full plan behind a patient-view card (signed in)
//
// Every call but the preflight must carry a JWT of a trusted issuer
// (cdsauth.go); a failure is a bare 401. Bad input is a 400 with a FHIR
// OperationOutcome; missing prefetch that cannot be fetched is a 412.

// CDSOptions configures the CDS Hooks services. The zero value serves them
// with every call refused (no trusted issuer).
type CDSOptions struct {
	// PublicURL is the base URL EHRs call, without a trailing slash
	// (https://ekbom.example.org). A token's aud must equal PublicURL plus
	// the path called, and plan links start with it. Required with Issuers.
	PublicURL string
	// Issuers are the EHRs whose tokens are accepted.
	Issuers []CDSIssuer
	// Insecure turns JWT verification off: every call is accepted and a
	// warning is logged at start and on every call. For local development
	// only (for example with the public CDS Hooks sandbox); never in
	// production.
	Insecure bool
	// HTTPClient fetches JWK Sets and FHIR data. Default: a client that
	// follows no redirects. Each fetch has its own deadline.
	HTTPClient *http.Client
	// JWKSTimeout bounds one JWK Set fetch. Default 2 s.
	JWKSTimeout time.Duration
	// FHIRTimeout bounds all FHIR fetches of one call together. Default 2 s.
	FHIRTimeout time.Duration
	// AllowHTTPLoopback lets fhirServer be plain http on a loopback address
	// (tests); otherwise only https servers are called.
	AllowHTTPLoopback bool
	// ReplayInStore keeps the ids of accepted tokens in the store
	// (ekbom.Store.ClaimTokenID) instead of in this process: replicas over
	// one PostgreSQL database then refuse each other's replays, and there is
	// no per-process cap (100,000 ids). It costs a database write per call,
	// so it suits PostgreSQL; with SQLite keep the in-memory cache.
	ReplayInStore bool
}

// cdsService is the CDS Hooks part of the server.
type cdsService struct {
	opt       CDSOptions
	discovery cdshooks.Discovery
	verifier  *jwtVerifier
	client    *http.Client
}

func newCDSService(opt CDSOptions, d cdshooks.Discovery, store ekbom.Store, now func() time.Time) (*cdsService, error) {
	opt.PublicURL = strings.TrimRight(opt.PublicURL, "/")
	if opt.PublicURL != "" {
		u, err := url.Parse(opt.PublicURL)
		if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("web: CDS public URL %q: want an absolute http(s) URL without query", opt.PublicURL)
		}
	}
	if len(opt.Issuers) > 0 && opt.PublicURL == "" && !opt.Insecure {
		return nil, errors.New("web: CDS trusted issuers need the public URL (token aud is checked against it)")
	}
	if opt.JWKSTimeout <= 0 {
		opt.JWKSTimeout = defaultJWKSTimeout
	}
	if opt.FHIRTimeout <= 0 {
		opt.FHIRTimeout = 2 * time.Second
	}
	client := opt.HTTPClient
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	v, err := newJWTVerifier(opt.Issuers, client, opt.JWKSTimeout, now)
	if err != nil {
		return nil, err
	}
	if opt.ReplayInStore {
		if store == nil {
			return nil, errors.New("web: CDS ReplayInStore needs a store")
		}
		v.replay = storeReplay{store}
	}
	return &cdsService{opt: opt, discovery: d, verifier: v, client: client}, nil
}

// setCORS sets the CORS headers of every CDS Hooks response: browser-based
// clients such as the CDS Hooks sandbox call from any origin, with a bearer
// token (never cookies).
func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
}

// cdsOutcome is an OperationOutcome with one issue.
func cdsOutcome(code, msg string) cdshooks.OperationOutcome {
	return cdshooks.OperationOutcome{ResourceType: "OperationOutcome", Issue: []cdshooks.Issue{{Severity: "error", Code: code, Diagnostics: msg}}}
}

var cdsInternalError = cdsOutcome("exception", "internal error")

func (s *Server) cdsRoutes() {
	s.handle("OPTIONS /cds-services", s.cdsPreflight)
	s.handle("OPTIONS /cds-services/{rest...}", s.cdsPreflight)
	s.handle("GET /cds-services", s.cdsAuth(s.cdsDiscovery))
	s.handle("POST /cds-services/{id}", s.cdsAuth(s.cdsCall))
	s.handle("POST /cds-services/{id}/feedback", s.cdsAuth(s.cdsFeedback))
	s.handle("GET /cds-plans/{id}", s.requirePage(s.cdsPlan))
}

// cdsPreflight answers CORS preflights. A browser page on the public
// internet (the CDS Hooks sandbox) calling a service on localhost asks for
// private-network access; the services carry no cookies and need a JWT (or
// the loopback-only development switch), so it is granted.
func (s *Server) cdsPreflight(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		w.Header().Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
}

type cdsCtxKey struct{}

// cdsCaller is who made a verified CDS call.
type cdsCaller struct {
	actor  string     // "cds:<issuer>" or "cds:insecure"
	issuer *CDSIssuer // nil without verification
}

func cdsCallerFrom(r *http.Request) *cdsCaller {
	c, _ := r.Context().Value(cdsCtxKey{}).(*cdsCaller)
	return c
}

// cdsAuth verifies the caller's JWT for the endpoint URL before h runs. A
// failure is a bare 401; the reason is logged, never the token.
func (s *Server) cdsAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		caller := &cdsCaller{actor: "cds:insecure"}
		if s.cds.opt.Insecure {
			s.log.Warn("CDS Hooks call accepted WITHOUT JWT verification (-cds-insecure-no-auth): for local development only",
				"request_id", requestIDFrom(r.Context()))
		} else {
			is, err := s.cds.verifier.verify(r.Context(), r, s.cdsBase(r)+r.URL.EscapedPath())
			if err != nil && !errors.Is(err, errJWT) {
				// The token may be good: the replay check could not be made.
				s.log.Error("CDS Hooks call not verified", "request_id", requestIDFrom(r.Context()), "err", err)
				writeJSON(w, http.StatusServiceUnavailable, cdsOutcome("transient", "the call could not be verified; try again"))
				return
			}
			if err != nil {
				s.log.Warn("CDS Hooks call refused", "request_id", requestIDFrom(r.Context()), "reason", err.Error())
				s.metrics.cdsRefused.Add(1)
				w.Header().Set("WWW-Authenticate", "Bearer")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			caller = &cdsCaller{actor: "cds:" + is.Issuer, issuer: is}
		}
		ctx := r.Context()
		h(w, r.WithContext(contextWith(ctx, cdsCtxKey{}, caller)))
	}
}

// cdsBase is the public base URL: configured, or (development without
// one) the scheme and host the request came to.
func (s *Server) cdsBase(r *http.Request) string {
	if s.cds.opt.PublicURL != "" {
		return s.cds.opt.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) cdsDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cds.discovery)
}

func (s *Server) cdsService(w http.ResponseWriter, r *http.Request) (cdshooks.Service, bool) {
	svc, ok := s.cds.discovery.Service(r.PathValue("id"))
	if !ok {
		writeJSON(w, http.StatusNotFound, cdsOutcome("not-found", "no such CDS service"))
	}
	return svc, ok
}

// cdsBody reads a JSON request body.
func (s *Server) cdsBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if mt := mediaType(r); mt != "application/json" && mt != "application/fhir+json" {
		writeJSON(w, http.StatusUnsupportedMediaType, cdsOutcome("not-supported", "send Content-Type: application/json"))
		return nil, false
	}
	data, err := readAll(r)
	if err != nil {
		if isTooLarge(err) {
			s.tooLarge(w, r)
			return nil, false
		}
		writeJSON(w, http.StatusBadRequest, cdsOutcome("structure", "the request body could not be read"))
		return nil, false
	}
	return data, true
}

// cdsCall answers a hook: decode, fill missing prefetch, map, store, reply.
func (s *Server) cdsCall(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.cdsService(w, r)
	if !ok {
		return
	}
	body, ok := s.cdsBody(w, r)
	if !ok {
		return
	}
	caller := cdsCallerFrom(r)
	req, err := cdshooks.DecodeRequest(body, svc)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, cdshooks.Outcome(err))
		return
	}
	// Prefetch the EHR did not send: fetch it from its FHIR server when
	// allowed, else 412 for what the service cannot do without.
	hashInput := body
	if missing := svc.Missing(req); len(missing) > 0 {
		fetched, why := s.fetchPrefetch(r.Context(), req, svc, missing, caller)
		keys := make([]string, 0, len(fetched))
		for k := range fetched {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 0 && req.Prefetch == nil {
			req.Prefetch = map[string]json.RawMessage{}
		}
		for _, k := range keys {
			req.Prefetch[k] = fetched[k]
			hashInput = append(append(append([]byte(nil), hashInput...), k...), fetched[k]...)
		}
		var still []string
		for _, k := range svc.Missing(req) {
			if svc.IsRequired(k) {
				still = append(still, k)
			}
		}
		if len(still) > 0 {
			s.log.Info("CDS Hooks call without required prefetch", "request_id", requestIDFrom(r.Context()),
				"service", svc.ID, "missing", strings.Join(still, ","), "why", why)
			writeJSON(w, http.StatusPreconditionFailed, cdshooks.MissingOutcome(still, why))
			return
		}
	}

	now := s.now()
	id := cdshooks.BatchID(svc.ID, req.HookInstance, hashInput, ekbom.DateFromTime(now), s.kb.Meta.Version)
	opt := cdshooks.Options{Now: now}
	var res *cdshooks.Result
	if svc.Hook == cdshooks.HookPatientView {
		opt.PlanURL = s.cdsBase(r) + "/cds-plans/" + id
		res, err = cdshooks.PatientView(req, s.engine, opt)
	} else {
		res, err = cdshooks.OrderCheck(req, s.engine, opt)
	}
	var verr *ekbom.ValidationError
	switch {
	case errors.As(err, &verr):
		writeJSON(w, http.StatusBadRequest, cdshooks.Outcome(err))
		return
	case err != nil:
		s.log.Error("CDS Hooks call failed", "request_id", requestIDFrom(r.Context()), "service", svc.ID, "err", err)
		writeJSON(w, http.StatusInternalServerError, cdsInternalError)
		return
	}

	if res.Silent != "" {
		// Not a patient ekbom is for: nothing is shown, so nothing is put
		// on record (patient-view fires on every chart opened).
		s.metrics.cdsSilent.Add(1)
		s.log.Debug("CDS Hooks call answered with no cards", "request_id", requestIDFrom(r.Context()), "service", svc.ID, "why", res.Silent)
		writeJSON(w, http.StatusOK, res.Response)
		return
	}
	batch := ekbom.CardBatch{
		ID: id, ServiceID: svc.ID, Hook: svc.Hook, HookInstance: req.HookInstance, PatientRef: res.PatientRef,
		Actor: caller.actor, EngineVersion: ekbom.EngineVersion, KnowledgeVersion: s.kb.Meta.Version,
		Cards: make([]ekbom.CardServed, 0, len(res.Response.Cards)),
	}
	for _, c := range res.Response.Cards {
		batch.Cards = append(batch.Cards, ekbom.CardServed{UUID: c.UUID, Summary: c.Summary, Indicator: c.Indicator})
	}
	if svc.Hook == cdshooks.HookPatientView && res.Plan != nil {
		if batch.Plan, err = json.Marshal(res.Plan); err != nil {
			s.log.Error("CDS Hooks: encode plan", "request_id", requestIDFrom(r.Context()), "err", err)
			writeJSON(w, http.StatusInternalServerError, cdsInternalError)
			return
		}
	}
	// Cards are shown only once they are on record (audit log included).
	if err := s.store.SaveCardsServed(r.Context(), batch); err != nil && !errors.Is(err, ekbom.ErrConflict) {
		s.log.Error("CDS Hooks: store cards served", "request_id", requestIDFrom(r.Context()), "err", err)
		writeJSON(w, http.StatusServiceUnavailable, cdsOutcome("transient", "the cards could not be recorded; try again"))
		return
	}
	s.metrics.cdsCards.Add(uint64(len(res.Response.Cards)))
	writeJSON(w, http.StatusOK, res.Response)
}

// cdsFeedbackReply is the body of a feedback response (the specification
// defines none): how many entries were new and how many were repeats.
type cdsFeedbackReply struct {
	Created    int `json:"created"`
	Duplicates int `json:"duplicates"`
}

func (s *Server) cdsFeedback(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.cdsService(w, r)
	if !ok {
		return
	}
	body, ok := s.cdsBody(w, r)
	if !ok {
		return
	}
	items, err := cdshooks.DecodeFeedback(body, svc.ID, cdsCallerFrom(r).actor)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, cdshooks.Outcome(err))
		return
	}
	var reply cdsFeedbackReply
	for _, f := range items {
		created, err := s.store.SaveFeedback(r.Context(), f)
		if err != nil {
			var verr *ekbom.ValidationError
			if errors.As(err, &verr) {
				writeJSON(w, http.StatusBadRequest, cdshooks.Outcome(err))
				return
			}
			s.log.Error("CDS Hooks: store feedback", "request_id", requestIDFrom(r.Context()), "err", err)
			writeJSON(w, http.StatusServiceUnavailable, cdsOutcome("transient", "the feedback could not be recorded; try again"))
			return
		}
		if created {
			reply.Created++
		} else {
			reply.Duplicates++
		}
	}
	writeJSON(w, http.StatusOK, reply)
}

func contextWith(ctx context.Context, key, val any) context.Context {
	return context.WithValue(ctx, key, val)
}

// maxPrealloc bounds the buffer readAll allocates up front for a body of
// announced length (a larger body grows it as it arrives).
const maxPrealloc = 1 << 20

// readAll reads the request body as io.ReadAll does, but in one
// allocation when the client announced its length: io.ReadAll starts at
// 512 bytes and grows, allocating about three times a 75 KB body.
func readAll(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n <= 0 || n > maxPrealloc {
		return io.ReadAll(r.Body)
	}
	b := make([]byte, 0, n+1) // +1: room to see EOF without growing
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than announced
		}
		m, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}
