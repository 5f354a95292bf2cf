package web

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics is a small Prometheus text-format registry: request counts by
// route, method and code, a duration histogram by route, and counters for
// assessments, login failures, panics, CDS Hooks cards served and CDS Hooks
// calls refused.
type metrics struct {
	mu        sync.Mutex
	requests  map[[3]string]uint64 // route, method, code
	durations map[string]*histogram

	assessments   atomic.Uint64
	loginFailures atomic.Uint64
	panics        atomic.Uint64
	cdsCards      atomic.Uint64
	cdsRefused    atomic.Uint64
	cdsSilent     atomic.Uint64
}

// durationBuckets are the histogram's upper bounds, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	count  uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[3]string]uint64{}, durations: map[string]*histogram{}}
}

func (m *metrics) observeRequest(route, method string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[3]string{route, method, strconv.Itoa(code)}]++
	h := m.durations[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets)+1)}
		m.durations[route] = h
	}
	sec := d.Seconds()
	i := sort.SearchFloat64s(durationBuckets, sec)
	h.counts[i]++
	h.sum += sec
	h.count++
}

// write renders the registry in the Prometheus text exposition format 0.0.4.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP http_requests_total HTTP requests by route pattern, method and status code.")
	fmt.Fprintln(w, "# TYPE http_requests_total counter")
	keys := make([][3]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return strings.Join(keys[i][:], "\x00") < strings.Join(keys[j][:], "\x00")
	})
	for _, k := range keys {
		fmt.Fprintf(w, "http_requests_total{route=%s,method=%s,code=%s} %d\n", label(k[0]), label(k[1]), label(k[2]), m.requests[k])
	}
	fmt.Fprintln(w, "# HELP http_request_duration_seconds HTTP request duration by route pattern.")
	fmt.Fprintln(w, "# TYPE http_request_duration_seconds histogram")
	routes := make([]string, 0, len(m.durations))
	for r := range m.durations {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		h := m.durations[r]
		var cum uint64
		for i, ub := range durationBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "http_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n", label(r), strconv.FormatFloat(ub, 'g', -1, 64), cum)
		}
		cum += h.counts[len(durationBuckets)]
		fmt.Fprintf(w, "http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", label(r), cum)
		fmt.Fprintf(w, "http_request_duration_seconds_sum{route=%s} %s\n", label(r), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(w, "http_request_duration_seconds_count{route=%s} %d\n", label(r), h.count)
	}
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("ekbom_assessments_total", "Plans produced (stored assessments and stateless /api/assess).", m.assessments.Load())
	counter("ekbom_login_failures_total", "Failed sign-in attempts, including throttled ones.", m.loginFailures.Load())
	counter("ekbom_panics_total", "Handler panics recovered.", m.panics.Load())
	counter("ekbom_cds_cards_served_total", "CDS Hooks cards served.", m.cdsCards.Load())
	counter("ekbom_cds_silent_total", "CDS Hooks calls answered with no cards because the record shows no restless legs syndrome (nothing stored).", m.cdsSilent.Load())
	counter("ekbom_cds_auth_failures_total", "CDS Hooks calls refused with 401 (JWT not accepted).", m.cdsRefused.Load())
}

// label quotes a label value as the text format requires.
func label(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w)
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

func slogString(k, v string) slog.Attr        { return slog.String(k, v) }
func slogInt(k string, v int) slog.Attr       { return slog.Int(k, v) }
func slogFloat(k string, v float64) slog.Attr { return slog.Float64(k, v) }
