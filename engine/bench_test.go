package engine_test

import (
	"os"
	"testing"

	"ekbom"
	"ekbom/intake"
)

// BenchmarkEvaluate measures engine.Evaluate on a typical refractory patient
// (the main bundled example: augmentation, low iron, exacerbators).
func BenchmarkEvaluate(b *testing.B) {
	e := newEngine(b)
	data, err := os.ReadFile("../examples/augmentation-on-pramipexole.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p, err := intake.Read(data, "", e.KB(), intake.Options{Today: ekbom.DateOf(2026, 11, 21)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Evaluate(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadAndEvaluate adds decoding and normalisation, as the CLI does.
func BenchmarkReadAndEvaluate(b *testing.B) {
	e := newEngine(b)
	data, err := os.ReadFile("../examples/augmentation-on-pramipexole.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := intake.Read(data, "", e.KB(), intake.Options{Today: ekbom.DateOf(2026, 11, 21)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Evaluate(p); err != nil {
			b.Fatal(err)
		}
	}
}
