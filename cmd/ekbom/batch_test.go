package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ekbom"
)

const testAsOf = "2026-11-21"

// planLine is one line of plans.ndjson: the plan shape and the patient.
type planLine struct {
	Patient string `json:"patient"`
	ekbom.Plan
}

func runCmd(t *testing.T, stdin []byte, args ...string) (int, []byte, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.Bytes(), errb.String()
}

func readPlans(t *testing.T, dir string) []planLine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "plans.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var out []planLine
	for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var p planLine
		if err := json.Unmarshal(l, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestSynthPipedToBatch is `ekbom synth -n 1000 | ekbom batch -`.
func TestSynthPipedToBatch(t *testing.T) {
	code, export, errs := runCmd(t, nil, "synth", "-n", "1000", "-seed", "7", "-as-of", testAsOf)
	if code != 0 {
		t.Fatalf("synth: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "1000 patients") {
		t.Errorf("synth stderr: %s", errs)
	}
	out := t.TempDir()
	code, stdout, errs := runCmd(t, export, "batch", "-as-of", testAsOf, "-out", out, "-tmp", t.TempDir(), "-")
	if code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errs)
	}
	if !strings.Contains(string(stdout), "1000 patients: 1000 plans") || !strings.Contains(string(stdout), "not a medical device") {
		t.Errorf("batch stdout:\n%s", stdout)
	}
	if !strings.Contains(errs, "ekbom batch: done 1,000/1,000 patients") {
		t.Errorf("no progress line on stderr (not a terminal: plain lines):\n%s", errs)
	}
	plans := readPlans(t, out)
	if len(plans) != 1000 {
		t.Fatalf("%d plans", len(plans))
	}
	for _, p := range plans {
		if p.Patient != "Patient/"+p.PatientID || p.AsOf.String() != testAsOf || len(p.Steps) == 0 {
			t.Fatalf("odd plan for %s: patient_id %q, as_of %s, %d steps", p.Patient, p.PatientID, p.AsOf, len(p.Steps))
		}
	}
	for _, f := range []string{"report.html", "summary.csv", "problems.ndjson", "care-augmentation.csv", "care-no_recent_ferritin.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestBatchEqualsAssess checks that batch plans equal what `ekbom assess`
// prints for each patient's Bundle.
func TestBatchEqualsAssess(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd(t, nil, "synth", "-n", "50", "-seed", "8", "-as-of", testAsOf, "-out", dir); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, errs)
	}
	out := t.TempDir()
	if code, _, errs := runCmd(t, nil, "batch", "-as-of", testAsOf, "-out", out, "-progress", "off", dir); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errs)
	}
	got := map[string]ekbom.Plan{}
	for _, p := range readPlans(t, out) {
		got[p.Patient] = p.Plan
	}
	bundles := exportBundles(t, dir)
	if len(bundles) != 50 || len(got) != 50 {
		t.Fatalf("%d bundles, %d plans", len(bundles), len(got))
	}
	for ref, bundle := range bundles {
		code, stdout, errs := runCmd(t, bundle, "assess", "-format", "json", "-as-of", testAsOf, "-")
		if code != 0 {
			t.Fatalf("assess %s: exit %d: %s", ref, code, errs)
		}
		var want ekbom.Plan
		if err := json.Unmarshal(stdout, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got[ref], cmp.Comparer(func(a, b ekbom.Date) bool { return a == b })); diff != "" {
			t.Errorf("%s: batch plan differs from ekbom assess (-assess +batch):\n%s", ref, diff)
		}
	}
}

// exportBundles builds one Bundle per patient from an export directory:
// the Patient, then its resources in file-name and line order, then the
// shared Medications.
func exportBundles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	sort.Strings(files)
	groups := map[string][]string{}
	var meds []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			var h struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
				Subject      struct {
					Reference string `json:"reference"`
				} `json:"subject"`
			}
			if err := json.Unmarshal([]byte(l), &h); err != nil {
				t.Fatal(err)
			}
			switch h.ResourceType {
			case "Medication":
				meds = append(meds, l)
			case "Patient":
				groups["Patient/"+h.ID] = append([]string{l}, groups["Patient/"+h.ID]...)
			default:
				groups[h.Subject.Reference] = append(groups[h.Subject.Reference], l)
			}
		}
	}
	out := map[string][]byte{}
	for ref, ls := range groups {
		var entries []string
		for _, l := range append(ls, meds...) {
			entries = append(entries, `{"resource":`+l+`}`)
		}
		out[ref] = []byte(`{"resourceType":"Bundle","type":"collection","entry":[` + strings.Join(entries, ",") + `]}`)
	}
	return out
}

// TestSynthAndBatchAreReproducible: the same seed gives the same bytes, and
// batch the same plans.
func TestSynthAndBatchAreReproducible(t *testing.T) {
	var exports [2][]byte
	var plans [2][]byte
	for i := range exports {
		code, export, errs := runCmd(t, nil, "synth", "-n", "300", "-seed", "42", "-as-of", testAsOf, "-noise", "0.01")
		if code != 0 {
			t.Fatalf("synth: exit %d: %s", code, errs)
		}
		exports[i] = export
		out := t.TempDir()
		if code, _, errs := runCmd(t, export, "batch", "-as-of", testAsOf, "-out", out, "-workers", []string{"1", "2"}[i], "-"); code != 0 {
			t.Fatalf("batch: exit %d: %s", code, errs)
		}
		data, err := os.ReadFile(filepath.Join(out, "plans.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		plans[i] = data
		if pr, _ := os.ReadFile(filepath.Join(out, "problems.ndjson")); len(pr) == 0 {
			t.Error("a noisy export gave no problems")
		}
	}
	if !bytes.Equal(exports[0], exports[1]) {
		t.Error("synth: the same seed gave different bytes")
	}
	if !bytes.Equal(plans[0], plans[1]) {
		t.Error("batch: the same export gave different plans")
	}
	if code, other, _ := runCmd(t, nil, "synth", "-n", "300", "-seed", "43", "-as-of", testAsOf); code != 0 || bytes.Equal(other, exports[0]) {
		t.Error("synth: another seed gave the same bytes")
	}
}

func TestSynthGzipDirectory(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd(t, nil, "synth", "-n", "20", "-gzip", "-as-of", testAsOf, "-out", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, f := range []string{"Patient.ndjson.gz", "Observation.ndjson.gz", "Medication.ndjson.gz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	out := t.TempDir()
	code, stdout, errs := runCmd(t, nil, "batch", "-as-of", testAsOf, "-out", out, dir)
	if code != 0 || !strings.Contains(string(stdout), "20 patients: 20 plans") {
		t.Errorf("batch: exit %d: %s\n%s", code, stdout, errs)
	}
}

func TestBatchAndSynthUsage(t *testing.T) {
	for _, args := range [][]string{
		{"batch"},
		{"batch", "a", "b"},
		{"batch", "-as-of", "21/11/2026", "-"},
		{"batch", "-progress", "sometimes", "-"},
		{"batch", filepath.Join(t.TempDir(), "missing")},
		{"batch", t.TempDir()}, // no NDJSON files
		{"synth", "extra"},
		{"synth", "-n", "-1"},
		{"synth", "-noise", "2"},
		{"synth", "-as-of", "tomorrow"},
	} {
		if code, _, _ := runCmd(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	code, stdout, _ := runCmd(t, nil, "help")
	if code != 0 || !strings.Contains(string(stdout), "ekbom batch") || !strings.Contains(string(stdout), "ekbom synth") {
		t.Errorf("usage lacks batch and synth:\n%s", stdout)
	}
}
