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

// summaryCounts reads summary.csv without the figures of the run itself and
// the shard rows.
func summaryCounts(t *testing.T, dir string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		k, v, _ := strings.Cut(l, ",")
		switch k {
		case "workers", "partitions", "elapsed_seconds", "elapsed_seconds_total", "read_seconds", "dedupe_seconds",
			"plan_seconds", "patients_per_second", "mb_per_second", "shard_index", "shard_count":
			continue
		}
		out[k] = v
	}
	return out
}

// TestBatchShardsAndMerge runs a noisy gzipped export (with a file cut
// short) whole, as 3 shards merged, and as the one shard 0/1: the merged
// files must be the whole run's, byte for byte, and its counts the same.
func TestBatchShardsAndMerge(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd(t, nil, "synth", "-n", "300", "-seed", "9", "-noise", "0.02", "-gzip", "-as-of", testAsOf, "-out", dir); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, errs)
	}
	cut := filepath.Join(dir, "Condition.ndjson.gz")
	data, err := os.ReadFile(cut)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	batch := func(args ...string) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		args = append([]string{"batch", "-as-of", testAsOf, "-progress", "off", "-tmp", t.TempDir(), "-out", out}, args...)
		if code, stdout, errs := runCmd(t, nil, append(args, dir)...); code != 0 {
			t.Fatalf("%v: exit %d: %s\n%s", args, code, stdout, errs)
		}
		return out
	}
	whole := batch()
	shards := []string{batch("-shard", "2/3"), batch("-shard", "0/3"), batch("-shard=1/3")}
	merged := filepath.Join(t.TempDir(), "merged")
	code, stdout, errs := runCmd(t, nil, append([]string{"batch", "merge", "-out", merged}, shards...)...)
	if code != 0 {
		t.Fatalf("merge: exit %d: %s", code, errs)
	}
	if !strings.Contains(string(stdout), "ekbom batch merge: 3 shards: "+summaryCounts(t, whole)["patients"]+" patients") {
		t.Errorf("merge stdout:\n%s", stdout)
	}
	one := batch("-shard", "0/1")
	for _, got := range []string{merged, one} {
		for _, f := range []string{"plans.ndjson", "problems.ndjson", "care-augmentation.csv", "care-no_recent_ferritin.csv",
			"care-exacerbating_drugs.csv", "care-dopamine_agonist_above_max.csv", "care-opioid_gabapentinoid_untreated_osa.csv"} {
			w, _ := os.ReadFile(filepath.Join(whole, f))
			g, err := os.ReadFile(filepath.Join(got, f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(w, g) {
				t.Errorf("%s: %s differs from the whole run's (%d bytes, want %d)", got, f, len(g), len(w))
			}
		}
		if diff := cmp.Diff(summaryCounts(t, whole), summaryCounts(t, got)); diff != "" {
			t.Errorf("%s: summary.csv counts differ (-whole +got):\n%s", got, diff)
		}
	}
	problems, _ := os.ReadFile(filepath.Join(whole, "problems.ndjson"))
	for _, kind := range []string{`"truncated_file"`, `"bad_json"`, `"duplicate_id"`, `"no_patient_reference"`, `"missing_patient"`} {
		if !bytes.Contains(problems, []byte(kind)) {
			t.Errorf("the export has no %s problem", kind)
		}
	}

	t.Run("refused", func(t *testing.T) {
		notEmpty := t.TempDir()
		os.WriteFile(filepath.Join(notEmpty, "x"), nil, 0o644)
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{shards[0], shards[1]}, "shard 1/3 missing"}, // shards[0] is 2/3
			{[]string{shards[0], shards[1], shards[2], shards[1]}, "shard 0/3 given twice"},
			{[]string{shards[0], shards[1], whole}, "different shard counts"},
			{[]string{merged}, "is a merged output"},
		} {
			out := filepath.Join(t.TempDir(), "m")
			code, _, errs := runCmd(t, nil, append([]string{"batch", "merge", "-out", out}, tc.args...)...)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Errorf("merge %v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("merge %v: wrote %s", tc.args, out)
			}
		}
		code, _, errs := runCmd(t, nil, append([]string{"batch", "merge", "-out", notEmpty}, shards...)...)
		if code != 2 || !strings.Contains(errs, "not empty") {
			t.Errorf("merge into a directory in use: exit %d, %s", code, errs)
		}
	})
}

func TestBatchShardAndMergeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"batch", "-shard", "3", "-"}, "-shard: \"3\": want i/N"},
		{[]string{"batch", "-shard", "", "-"}, "-shard: \"\": want i/N"},
		{[]string{"batch", "-shard", "a/3", "-"}, "-shard: \"a/3\": the index \"a\" is not a whole number"},
		{[]string{"batch", "-shard", "1/b", "-"}, "-shard: \"1/b\": the number of shards \"b\""},
		{[]string{"batch", "-shard", "3/3", "-"}, "-shard: \"3/3\": the index must be from 0 to 2"},
		{[]string{"batch", "-shard", "-1/3", "-"}, "-shard: \"-1/3\": the index must be from 0 to 2"},
		{[]string{"batch", "-shard=-1/3", "-"}, "-shard: \"-1/3\": the index must be from 0 to 2"},
		{[]string{"batch", "-shard", "0/0", "-"}, "-shard: \"0/0\": the number of shards must be at least 1"},
		{[]string{"batch", "merge"}, "-out: required"},
		{[]string{"batch", "merge", "-out", filepath.Join(t.TempDir(), "m")}, "usage: ekbom batch merge"},
		{[]string{"batch", "merge", "-out", filepath.Join(t.TempDir(), "m"), t.TempDir()}, "summary.csv"},
	} {
		code, _, errs := runCmd(t, nil, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	code, stdout, _ := runCmd(t, nil, "help")
	if code != 0 || !strings.Contains(string(stdout), "-shard i/N") || !strings.Contains(string(stdout), "ekbom batch merge -out DIR") {
		t.Errorf("usage lacks -shard and merge:\n%s", stdout)
	}
}
