package engine_test

import (
	"os"
	"path/filepath"
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

// BenchmarkEvaluateVignettes measures engine.Evaluate across the 50
// vignette patients (testdata/vignettes): each op is one patient, in turn,
// so ns/op is the mean over a mix of simple and complex records rather
// than the heavy main example alone.
func BenchmarkEvaluateVignettes(b *testing.B) {
	e := newEngine(b)
	files, _ := filepath.Glob("../testdata/vignettes/*/patient.yaml")
	if len(files) == 0 {
		b.Fatal("no vignettes")
	}
	var patients []*ekbom.Patient
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		p, err := intake.Read(data, "", e.KB(), intake.Options{Today: ekbom.DateOf(2026, 11, 21)})
		if err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		patients = append(patients, p)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := e.Evaluate(patients[i%len(patients)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
