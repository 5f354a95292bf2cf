package kb_test

import (
	"testing"

	"ekbom/kb"
)

// BenchmarkLoad measures decoding and validating the embedded knowledge base,
// as every process does once at start (kb.Default).
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kb.Load(kb.Data()); err != nil {
			b.Fatal(err)
		}
	}
}
