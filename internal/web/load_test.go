package web

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ekbom/cdshooks"
)

// TestLoadPatientView is a load generator for patient-view latency. It is
// off unless EKBOM_LOAD=1, so CI never runs it, and asserts nothing about
// time: it prints what it measured.
//
// It serves the real handler on 127.0.0.1 (httptest.NewServer) with JWT
// verification on (ES384, JWK Set on loopback, cached after a warm-up
// call), a fresh SQLite database and the realistic prefetch of about 60
// resources. Requests go out open-loop at a fixed rate: request i is due at
// start + i/rate whatever happened to the others, and its latency is
// counted from when it was due, so a server that falls behind shows it
// (no coordinated omission). At most EKBOM_LOAD_CONCURRENCY requests are in
// flight; a request due while all slots are busy is not sent and counted
// as dropped. Each request has its own token (jti) and hook instance, as in
// real use; the tokens are signed before the clock starts.
//
//	EKBOM_LOAD=1                 run it
//	EKBOM_LOAD_RATES=1000        requests per second; a comma list runs each in turn
//	EKBOM_LOAD_DURATION=10s      how long each rate runs
//	EKBOM_LOAD_CONCURRENCY=256   requests in flight at most
//
// Example (see BENCHMARKS.md):
//
//	EKBOM_LOAD=1 EKBOM_LOAD_RATES=50,100,200,1000 go test ./internal/web -run TestLoadPatientView -v -timeout 30m
func TestLoadPatientView(t *testing.T) {
	if os.Getenv("EKBOM_LOAD") != "1" {
		t.Skip("load generator: set EKBOM_LOAD=1 to run it")
	}
	rates := []int{1000}
	if s := os.Getenv("EKBOM_LOAD_RATES"); s != "" {
		rates = rates[:0]
		for _, f := range strings.Split(s, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || r <= 0 || r > 20000 {
				t.Fatalf("EKBOM_LOAD_RATES: %q is not a rate between 1 and 20000", f)
			}
			rates = append(rates, r)
		}
	}
	duration := 10 * time.Second
	if s := os.Getenv("EKBOM_LOAD_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > 5*time.Minute {
			t.Fatalf("EKBOM_LOAD_DURATION: %q is not a duration up to 5m", s)
		}
		duration = d
	}
	concurrency := 256
	if s := os.Getenv("EKBOM_LOAD_CONCURRENCY"); s != "" {
		c, err := strconv.Atoi(s)
		if err != nil || c <= 0 || c > 4096 {
			t.Fatalf("EKBOM_LOAD_CONCURRENCY: %q is not between 1 and 4096", s)
		}
		concurrency = c
	}

	e := newCDSEnv(t)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	if u, err := url.Parse(ts.URL); err != nil || !net.ParseIP(u.Hostname()).IsLoopback() {
		t.Fatalf("the server is not on a loopback address: %s", ts.URL)
	}
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency},
		Timeout:   30 * time.Second,
	}
	t.Cleanup(client.CloseIdleConnections)

	// Warm the JWK Set cache, as in steady state.
	warm, _ := http.NewRequest(http.MethodGet, ts.URL+"/cds-services", nil)
	warm.Header.Set("Authorization", "Bearer "+e.token("/cds-services"))
	if resp, err := client.Do(warm); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("warm-up: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	path := "/cds-services/" + cdshooks.PatientViewID
	body := readRequest(t, "patient-view/realistic-60")
	const instance = "0e4f8c2a-7d1b-4f3e-9c6a-5b2d1e0f3a04"
	at := bytes.Index(body, []byte(instance))
	if at < 0 {
		t.Fatal("hook instance not found in the request")
	}
	t.Logf("GOMAXPROCS %d; server %s; body %d bytes; concurrency %d; %v per rate",
		runtime.GOMAXPROCS(0), ts.URL, len(body), concurrency, duration)

	seq := 0 // hook instances stay unique across rates
	for _, rate := range rates {
		n := min(int(float64(rate)*duration.Seconds()), 200000)
		tokens := signTokens(e, path, n)
		bodies := make([][]byte, n)
		for i := range bodies {
			b := bytes.Clone(body)
			copy(b[at+24:], fmtHex12(seq))
			seq++
			bodies[i] = b
		}
		r := runLoad(client, ts.URL+path, tokens, bodies, rate, concurrency)
		t.Log(r.String(rate))
	}
}

// signTokens signs n tokens for path on every core.
func signTokens(e *cdsEnv, path string, n int) []string {
	tokens := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				tokens[i] = e.token(path)
			}
		})
	}
	wg.Wait()
	return tokens
}

// loadResult is what one rate measured.
type loadResult struct {
	sent, ok, failed, dropped int
	elapsed                   time.Duration
	latencies                 []time.Duration // of the successful requests
	firstFailure              string
}

func (r loadResult) String(rate int) string {
	q := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	s := fmt.Sprintf("rate %5d/s: sent %6d ok %6d failed %d dropped %d | throughput %7.1f/s | latency p50 %6.2f ms p90 %6.2f ms p99 %7.2f ms max %7.2f ms",
		rate, r.sent, r.ok, r.failed, r.dropped, float64(r.ok)/r.elapsed.Seconds(),
		ms(q(0.50)), ms(q(0.90)), ms(q(0.99)), ms(q(1)))
	if r.firstFailure != "" {
		s += " | first failure: " + r.firstFailure
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runLoad sends len(tokens) requests at rate per second, open-loop, with at
// most concurrency in flight, and waits for them all.
func runLoad(client *http.Client, target string, tokens []string, bodies [][]byte, rate, concurrency int) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	res.latencies = make([]time.Duration, 0, len(tokens))
	slots := make(chan struct{}, concurrency)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range tokens {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case slots <- struct{}{}:
		default:
			mu.Lock()
			res.dropped++
			mu.Unlock()
			continue
		}
		res.sent++
		wg.Go(func() {
			defer func() { <-slots }()
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(bodies[i]))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tokens[i])
			resp, err := client.Do(req)
			status := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			lat := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if status == http.StatusOK {
				res.ok++
				res.latencies = append(res.latencies, lat)
				return
			}
			res.failed++
			if res.firstFailure == "" {
				res.firstFailure = fmt.Sprintf("status %d %v", status, err)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res
}
