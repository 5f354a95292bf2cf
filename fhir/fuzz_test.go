package fhir_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ekbom"
	"ekbom/engine"
	"ekbom/fhir"
	"ekbom/intake"
)

func FuzzReadBundle(f *testing.F) {
	b := baseWithWeight(f)
	files, _ := filepath.Glob("../testdata/fhir/*.json")
	files = append(files, "testdata/bundle-60.json")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		string(bundleOf()),
		string(bundleOf(obs("2276-4", -1, "ng/mL", "2026-11-03"))),
		string(bundleOf(obs("2276-4", "1e999", "ng/mL", "2026"))),
		string(bundleOf(medRequest("r", "active", medText("Sinemet 25/100"), `{"text":"1 tab tid","timing":{"repeat":{"frequency":1,"period":0,"periodUnit":"h"}}}`, ""))),
		string(bundleOf(medStatement("s", "stopped", `"medicationReference":{"reference":"#m"}`, dose(5, "mcg/h", ""),
			`,"contained":[{"resourceType":"Medication","id":"m","ingredient":[{"itemCodeableConcept":{"text":"x"}}]}],"statusReason":{"text":"why"}`))),
		string(bundleOf(qr("q", "2026-11-20", answer("irls-1", coding("irls-item-score", "3"))+`,{"linkId":"x","item":[{"linkId":"y"}]}`))),
		string(rawBundle(patientJSON, patientJSON, strings.Replace(patientJSON, "p1", "p2", 1))),
		`{"resourceType":"Bundle","entry":[{"resource":null},{"resource":[]},{"resource":{"resourceType":"Patient","birthDate":"2008","gender":"male"}}]}`,
		`{"resourceType":"Patient"}`,
		`{"resourceType":"Bundle","entry":{}}`,
		`[[[[[[[[[[]]]]]]]]]]`,
		"\ufeff{}",
		``,
	} {
		f.Add([]byte(s))
	}
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := fhir.ReadBundle(data, b, fhir.Options{AsOf: asOf})
		if err != nil {
			var verr *ekbom.ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) == 0 {
				t.Fatalf("error %v is not a ValidationError with problems", err)
			}
			if res != nil {
				t.Fatal("result with an error")
			}
			return
		}
		p := res.Patient
		if p == nil || p.Age == nil || (p.Sex != ekbom.Female && p.Sex != ekbom.Male) || p.AsOf != asOf {
			t.Fatalf("incomplete patient %+v", p)
		}
		for _, n := range res.Notes {
			if n.Resource == "" || n.Message == "" {
				t.Fatalf("empty note %+v", n)
			}
		}
		if !fhir.IsFHIR(data) {
			t.Fatal("read a bundle that IsFHIR rejects")
		}
		// What was read must be safe to normalise and evaluate, and
		// Locate must handle whatever intake reports.
		if err := intake.Normalize(p, b, intake.Options{}); err != nil {
			if !errors.Is(res.Locate(err), ekbom.ErrInvalid) {
				t.Fatalf("Locate lost the error kind: %v", err)
			}
			return
		}
		if _, err := e.Evaluate(p); err != nil {
			t.Fatalf("Evaluate: %v", err)
		}
	})
}

// TestRealisticBundle reads the benchmark's EHR-like bundle.
func TestRealisticBundle(t *testing.T) {
	b := baseWithWeight(t)
	data, err := os.ReadFile("testdata/bundle-60.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := fhir.ReadBundle(data, b, fhir.Options{AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Patient
	if err := intake.Normalize(p, b, intake.Options{}); err != nil {
		t.Fatal(res.Locate(err))
	}
	var meds []string
	for _, m := range p.Medications {
		meds = append(meds, string(m.Status)+" "+m.Resolved.Display)
	}
	want := []string{
		"current pregabalin 75 mg twice daily (150 mg/day)",
		"current pramipexole 0.25 mg at bedtime",
		"current sertraline 50 mg once daily",
		"current amlodipine 5 mg tablet",
		"past ferrous sulfate 325 mg every other day (162.5 mg/day)",
		"past gabapentin 300 mg three times daily (900 mg/day)",
	}
	if strings.Join(meds, "\n") != strings.Join(want, "\n") {
		t.Errorf("medications:\n%s\nwant:\n%s", strings.Join(meds, "\n"), strings.Join(want, "\n"))
	}
	if len(p.Labs) != 24 || *p.WeightKg != 70 || len(p.IronInfusions) != 1 || *p.Symptoms.IRLSTotal != 22 {
		t.Errorf("labs %d weight %v infusions %d irls %v", len(p.Labs), *p.WeightKg, len(p.IronInfusions), *p.Symptoms.IRLSTotal)
	}
	if got := strings.Join(conditionNames(p), ","); got != "ckd,sleep_apnea" {
		t.Errorf("conditions %s", got)
	}
	if testing.Verbose() {
		for _, n := range res.Notes {
			t.Log(n)
		}
	}
}

func conditionNames(p *ekbom.Patient) []string {
	var out []string
	for _, c := range p.Conditions {
		out = append(out, string(c))
	}
	return out
}

func BenchmarkReadBundle(b *testing.B) {
	base := baseWithWeight(b)
	data, err := os.ReadFile("testdata/bundle-60.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fhir.ReadBundle(data, base, fhir.Options{AsOf: asOf}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadAndNormalize is ReadBundle followed by intake.Normalize, the
// path a request takes before the engine.
func BenchmarkReadAndNormalize(b *testing.B) {
	base := baseWithWeight(b)
	data, err := os.ReadFile("testdata/bundle-60.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := fhir.ReadBundle(data, base, fhir.Options{AsOf: asOf})
		if err != nil {
			b.Fatal(err)
		}
		if err := intake.Normalize(res.Patient, base, intake.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
