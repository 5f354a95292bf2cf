package fhir_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ekbom"
	"ekbom/engine"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/kb"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// weightLOINC is the body-weight code proposed for codes.yaml.
const weightLOINC = "29463-7"

// baseWithWeight returns the default knowledge base and fails if it lacks
// the codes.yaml row for body weight, which the twins need for creatinine
// clearance.
func baseWithWeight(tb testing.TB) *kb.Base {
	tb.Helper()
	b := defaultBase(tb)
	for _, lc := range b.Codes.Labs {
		if lc.Test == "weight" && lc.LOINC == weightLOINC {
			return b
		}
	}
	tb.Fatalf("codes.yaml has no body-weight row (LOINC %s)", weightLOINC)
	return nil
}

func defaultBase(tb testing.TB) *kb.Base {
	tb.Helper()
	b, err := kb.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var planOptions = cmp.Options{
	cmpopts.IgnoreFields(ekbom.Plan{}, "PatientID"),
	cmp.Comparer(func(a, b ekbom.Date) bool { return a == b }),
}

// TestTwins reads each FHIR twin of a vignette and checks that it gives the
// same plan as the vignette's native patient.yaml.
func TestTwins(t *testing.T) {
	b := baseWithWeight(t)
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../testdata/fhir/*.json")
	if len(files) < 10 {
		t.Fatalf("found %d FHIR twins, want at least 10", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			yaml, err := os.ReadFile(filepath.Join("../testdata/vignettes", name, "patient.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			native, err := intake.Read(yaml, "yaml", b, intake.Options{})
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !fhir.IsFHIR(data) {
				t.Fatal("IsFHIR = false")
			}
			res, err := fhir.ReadBundle(data, b, fhir.Options{AsOf: native.AsOf})
			if err != nil {
				t.Fatal(err)
			}
			p := res.Patient
			if err := intake.Normalize(p, b, intake.Options{}); err != nil {
				t.Fatalf("intake.Normalize: %v", res.Locate(err))
			}
			want, err := e.Evaluate(native)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Evaluate(p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, planOptions); diff != "" {
				t.Errorf("plan from FHIR differs from the native twin's (-native +fhir):\n%s", diff)
				pd := cmp.Diff(native, p, cmp.Comparer(func(a, b ekbom.Date) bool { return a == b }),
					cmpopts.IgnoreFields(ekbom.Patient{}, "ID"), cmpopts.IgnoreFields(ekbom.Medication{}, "Name", "Sig"))
				t.Logf("patient (-native +fhir):\n%s", pd)
			}
			for _, n := range res.Notes {
				if testing.Verbose() {
					t.Log(n)
				}
			}
		})
	}
}
