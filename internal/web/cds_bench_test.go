package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"ekbom/cdshooks"
)

// BenchmarkPatientView measures a patient-view call end to end through the
// HTTP handler: JWT verification (ES384, JWK Set cached), request decoding,
// the FHIR reader on a realistic prefetch of about 60 resources
// (fhir/testdata/bundle-60.json split into the prefetch keys), intake, the
// engine, the cards, and storing the batch with its audit entry in SQLite.
// Each call has its own hook instance and token, as in real use.
func BenchmarkPatientView(b *testing.B) {
	e := newCDSEnv(b)
	path := "/cds-services/" + cdshooks.PatientViewID
	body := readRequest(b, "patient-view/realistic-60")
	const instance = "0e4f8c2a-7d1b-4f3e-9c6a-5b2d1e0f3a04"
	at := bytes.Index(body, []byte(instance))
	if at < 0 {
		b.Fatal("hook instance not found in the request")
	}
	// Warm the JWK Set cache, as in steady state.
	if rec := e.call(http.MethodGet, "/cds-services", e.token("/cds-services"), nil); rec.Code != http.StatusOK {
		b.Fatalf("warm-up: %d", rec.Code)
	}
	tokens := make([]string, b.N)
	for i := range tokens {
		tokens[i] = e.token(path)
	}
	h := e.srv.Handler()
	buf := bytes.Clone(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A fresh hook instance of the same length per call.
		copy(buf[at:], []byte(instance[:24]))
		copy(buf[at+24:], []byte(fmtHex12(i)))
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(buf))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokens[i])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func fmtHex12(i int) string {
	const hexd = "0123456789abcdef"
	var out [12]byte
	for j := 11; j >= 0; j-- {
		out[j] = hexd[i&15]
		i >>= 4
	}
	return string(out[:])
}
