package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"ekbom"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAssessExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		for _, format := range []string{"text", "markdown", "json"} {
			t.Run(filepath.Base(f)+"/"+format, func(t *testing.T) {
				code, out, errs := runCLI(t, "", "assess", "-format", format, f)
				if code != 0 {
					t.Fatalf("exit %d, stderr:\n%s", code, errs)
				}
				switch format {
				case "json":
					var p ekbom.Plan
					if err := json.Unmarshal([]byte(out), &p); err != nil {
						t.Fatalf("not a plan: %v", err)
					}
					if p.KnowledgeVersion == "" || len(p.Steps) == 0 {
						t.Errorf("plan lacks version or steps: %+v", p)
					}
				default:
					if !strings.Contains(out, "not a medical device") {
						t.Error("human-readable plan lacks the disclaimer")
					}
				}
			})
		}
	}
}

func TestAssessWarningsComeFirst(t *testing.T) {
	code, out, _ := runCLI(t, "", "assess", "../../examples/augmentation-on-pramipexole.yaml")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	w, s := strings.Index(out, "WARNINGS"), strings.Index(out, "1. VERIFY AND OPTIMIZE IRON")
	if w < 0 || s < 0 || w > s {
		t.Errorf("warnings (%d) must come before the steps (%d)", w, s)
	}
	for _, want := range []string{"[augmentation]", "never", "taper", "2027-"} {
		if !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
			t.Errorf("plan text lacks %q", want)
		}
	}
}

func TestAssessStdinAndAsOf(t *testing.T) {
	in := `{"age": 50, "sex": "female", "labs": [{"test": "ferritin", "value": 40, "unit": "ng/mL", "date": "2026-01-10"}]}`
	code, out, errs := runCLI(t, in, "assess", "-format", "json", "-as-of", "2026-02-01", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var p ekbom.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.AsOf.String() != "2026-02-01" {
		t.Errorf("as_of = %s", p.AsOf)
	}
}

func TestAssessInvalidInput(t *testing.T) {
	tests := []struct {
		name, input string
		want        []string // every line must appear on stderr
	}{
		{"under 18", `{"age": 16, "sex": "male"}`, []string{"age: 16", "out of scope"}},
		{"every problem with its path", `{"age": 40, "sex": "other", "labs": [{"test": "ferritin", "value": -3, "unit": "kg", "date": "2026-01-01"}], "medications": [{"status": "maybe"}]}`,
			[]string{"sex:", "labs[0].unit:", "labs[0].value:", "medications[0]"}},
		{"unknown field", `{"age": 40, "sex": "male", "weigth_kg": 80}`, []string{"weigth_kg"}},
		{"not json", `{"age": `, []string{"line"}},
		{"yaml", "age: 40\nsex: male\nlabs:\n  - {test: tsat, value: 140, unit: \"%\", date: 2026-01-01}\n", []string{"labs[0].value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.input, "assess", "-as-of", "2026-02-01", "-")
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, errs)
			}
			if out != "" {
				t.Errorf("stdout should be empty on invalid input, got %q", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestAssessUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"assess"},
		{"assess", "-format", "pdf", "x.yaml"},
		{"assess", "does-not-exist.yaml"},
		{"frobnicate"},
		{},
	} {
		if code, _, _ := runCLI(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestTools(t *testing.T) {
	code, out, _ := runCLI(t, "", "irls", "3", "3", "2", "4", "3", "3", "4", "2", "3", "2")
	if code != 0 || !strings.Contains(out, "IRLS 29/40: severe") {
		t.Errorf("irls: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, "", "irls", "3", "5", "2", "4", "3", "3", "4", "2", "3", "2"); code != 2 || !strings.Contains(errs, "item 2") {
		t.Errorf("irls out of range: %d %q", code, errs)
	}
	code, out, _ = runCLI(t, "", "taper", "-drug", "Mirapex", "-dose", "0.75", "-start", "2026-01-01")
	if code != 0 || !strings.Contains(out, "2026-03-12  stop pramipexole") {
		t.Errorf("taper: %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "", "taper", "-drug", "gabapentin", "-dose", "300"); code != 2 {
		t.Errorf("taper of a non-dopaminergic drug: exit %d, want 2", code)
	}
	for _, s := range []string{"patient", "plan"} {
		code, out, _ := runCLI(t, "", "schema", s)
		var v map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["$schema"] == nil {
			t.Errorf("schema %s: exit %d", s, code)
		}
	}
	for _, sec := range []string{"", "recommendations", "rules", "drugs", "sources", "conflicts", "thresholds"} {
		args := []string{"kb"}
		if sec != "" {
			args = append(args, sec)
		}
		if code, out, _ := runCLI(t, "", args...); code != 0 || out == "" {
			t.Errorf("kb %s: exit %d", sec, code)
		}
	}
	// One entry by id; an unknown id or format is an error, not silence.
	if code, out, _ := runCLI(t, "", "kb", "thresholds", "age.elderly"); code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "65 years") {
		t.Errorf("kb thresholds age.elderly: %d %q", code, out)
	}
	for _, args := range [][]string{{"kb", "rules", "no.such.rule"}, {"kb", "thresholds", "nope", "-format", "json"}, {"kb", "-format", "xml"}, {"irls", "-format", "xml", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"}} {
		if code, _, errs := runCLI(t, "", args...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, errs)
		}
	}
	code, out, _ = runCLI(t, "", "kb", "drugs", "Neupro")
	if code != 0 || !strings.Contains(out, `"ID": "rotigotine"`) {
		t.Errorf("kb drugs Neupro: %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "", "version"); code != 0 || !strings.Contains(out, ekbom.EngineVersion) {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestAssessFHIRBundle(t *testing.T) {
	bundles, _ := filepath.Glob("../../testdata/fhir/*.json")
	if len(bundles) < 10 {
		t.Fatalf("found %d FHIR bundles", len(bundles))
	}
	for _, b := range bundles[:3] {
		code, out, errs := runCLI(t, "", "assess", "-format", "json", b)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", b, code, errs)
		}
		var p ekbom.Plan
		if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Steps) == 0 {
			t.Errorf("%s: no plan: %v", b, err)
		}
	}
	code, _, errs := runCLI(t, `{"resourceType": "Patient", "id": "x"}`, "assess", "-as-of", "2026-11-21", "-")
	if code != 2 || !strings.Contains(errs, "Bundle") {
		t.Errorf("a bare Patient resource: exit %d, stderr %q", code, errs)
	}
}
