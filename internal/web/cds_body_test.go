package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadAll checks readAll reads what io.ReadAll reads, whatever the
// announced length, in one allocation when the length is right.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 5000) // 80 KB
	for _, tc := range []struct {
		name     string
		announce int64
		body     string
		reader   func(io.Reader) io.Reader
	}{
		{"announced", int64(len(body)), body, nil},
		{"announced, one byte at a time", int64(len(body)), body, iotest.OneByteReader},
		{"announced, data with EOF", int64(len(body)), body, iotest.DataErrReader},
		{"chunked", -1, body, nil},
		{"empty", 0, "", nil},
		{"longer than announced", 10, body, nil},
		{"shorter than announced", int64(len(body)) + 100, body, nil},
		{"above the preallocation bound", maxPrealloc + 1, strings.Repeat("x", maxPrealloc+1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader = strings.NewReader(tc.body)
			if tc.reader != nil {
				rd = tc.reader(rd)
			}
			r := httptest.NewRequest(http.MethodPost, "/cds-services/x", rd)
			r.ContentLength = tc.announce
			got, err := readAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.body {
				t.Errorf("read %d bytes, want %d", len(got), len(tc.body))
			}
		})
	}
	// Errors of the body reader come through: a body over the limit.
	r := httptest.NewRequest(http.MethodPost, "/cds-services/x", strings.NewReader(body))
	w := httptest.NewRecorder()
	r.Body = http.MaxBytesReader(w, r.Body, 1000)
	if _, err := readAll(r); !isTooLarge(err) {
		t.Errorf("body over the limit: %v, want a MaxBytesError", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/cds-services/x", iotest.TimeoutReader(bytes.NewReader([]byte(body))))
	if _, err := readAll(r); !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("failing reader: %v, want its error", err)
	}
	// One allocation for an announced body.
	allocs := testing.AllocsPerRun(20, func() {
		r := httptest.NewRequest(http.MethodPost, "/cds-services/x", strings.NewReader(body))
		if _, err := readAll(r); err != nil {
			t.Fatal(err)
		}
	})
	base := testing.AllocsPerRun(20, func() {
		httptest.NewRequest(http.MethodPost, "/cds-services/x", strings.NewReader(body))
	})
	if allocs-base > 1 {
		t.Errorf("readAll allocated %.0f times for an announced body, want 1", allocs-base)
	}
}
