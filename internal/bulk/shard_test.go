package bulk_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ekbom"
	"ekbom/internal/bulk"
)

// faultyExport writes a synthetic export of n patients with noise and every
// other kind of fault the reader reports, some of them placed across
// shards: malformed lines, lines without a patient or resourceType, a
// Patient without id, duplicate ids (within a patient, across patients of
// different shards in both orders, shared Medications), a shared
// Medication that is not JSON, a truncated gzip file, a line too long,
// resources about a patient not in the export, an invalid and an
// out-of-scope patient, a Patient without other resources, and a
// Practitioner (counted, never a problem).
func faultyExport(t *testing.T, n, shards int) string {
	t.Helper()
	g := generator(t, n, 21, 0.02)
	dir := t.TempDir()
	if _, err := g.WriteDir(dir, false); err != nil {
		t.Fatal(err)
	}
	// Two patients in different shards.
	a, b := g.PatientID(0), ""
	for i := 1; i < n && b == ""; i++ {
		if bulk.ShardOf(g.PatientID(i), shards) != bulk.ShardOf(a, shards) {
			b = g.PatientID(i)
		}
	}
	if b == "" {
		t.Fatal("all patients in one shard")
	}
	var condA string
	for _, l := range lines(readFile(t, filepath.Join(dir, "Condition.ndjson"))) {
		if bytes.Contains(l, []byte(`"Patient/`+a+`"`)) && bytes.HasPrefix(l, []byte(`{"resourceType":"Condition","id":`)) {
			condA = string(l)
			break
		}
	}
	if condA == "" {
		t.Fatal("patient 0 has no Condition")
	}
	clash := strings.Replace(condA, `"Patient/`+a+`"`, `"Patient/`+b+`"`, 1)
	// After the original: the repeat is B's (another shard than the first).
	appendLines(t, filepath.Join(dir, "Condition.ndjson"), clash, condA)
	// Before every other file: the first copy is B's, A's original repeats it.
	obs := lines(readFile(t, filepath.Join(dir, "Observation.ndjson")))
	var obsB string
	for _, l := range obs {
		if bytes.Contains(l, []byte(`"Patient/`+b+`"`)) {
			obsB = string(l)
			break
		}
	}
	appendLines(t, filepath.Join(dir, "AAA.ndjson"),
		strings.Replace(obsB, `"Patient/`+b+`"`, `"Patient/`+a+`"`, 1),
		`{"resourceType":"Practitioner","id":"dr-1"}`,
		`{"resourceType":"Observation","id":"orphan","status":"final"}`,
		`{"resourceType":"Observation","id":"lost","subject":{"reference":"Patient/nobody"}}`,
		`not json at all`,
		`{"resourceType":"Observation","id":"long","subject":{"reference":"Patient/`+a+`"},"note":"`+strings.Repeat("x", 20000)+`"}`,
	)
	meds := lines(readFile(t, filepath.Join(dir, "Medication.ndjson")))
	appendLines(t, filepath.Join(dir, "Medication.ndjson"), string(meds[1]),
		`{"resourceType":"Medication","id":"bad-med","code":tru}`)
	appendLines(t, filepath.Join(dir, "Patient.ndjson"),
		`{"resourceType":"Patient","gender":"female","birthDate":"1970-01-01"}`,
		`{"resourceType":"Patient","id":"alone","gender":"male","birthDate":"1950-05-05"}`,
		`{"resourceType":"Patient","id":"bad-gender","gender":"unknown","birthDate":"1960-01-01"}`,
		`{"resourceType":"Patient","id":"child","gender":"female","birthDate":"2015-06-01"}`,
	)
	// Observation.ndjson gzipped and cut short.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Join(obs, []byte("\n")))
	zw.Close()
	os.Remove(filepath.Join(dir, "Observation.ndjson"))
	if err := os.WriteFile(filepath.Join(dir, "Observation.ndjson.gz"), gz.Bytes()[:gz.Len()*3/4], 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// summaryRows reads summary.csv as metric → value, leaving out the
// figures of the run itself (times, rates, workers, partitions) and the
// shard rows.
func summaryRows(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(readFile(t, filepath.Join(dir, "summary.csv"))), "\n"), "\n") {
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

func metric(t *testing.T, dir, name string) string {
	t.Helper()
	for _, l := range strings.Split(string(readFile(t, filepath.Join(dir, "summary.csv"))), "\n") {
		if k, v, _ := strings.Cut(l, ","); k == name {
			return v
		}
	}
	t.Fatalf("%s: no %s row", dir, name)
	return ""
}

// withoutHeader drops the report's line with the run's own figures.
func withoutHeader(html []byte) string {
	var keep []string
	for _, l := range strings.Split(string(html), "\n") {
		if !strings.HasPrefix(l, `<p class="muted">Plans made for`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// sameOutput checks that a merged (or one-shard) output equals the output
// of a run over the whole export: the same bytes in plans.ndjson,
// problems.ndjson and the care lists, the same counts in summary.csv and
// the same report but for its line of run figures.
func sameOutput(t *testing.T, whole, got string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(whole, "care-*.csv"))
	if len(files) == 0 {
		t.Fatal("no care lists")
	}
	for _, f := range append([]string{"plans.ndjson", "problems.ndjson"}, mapBase(files)...) {
		w, g := readFile(t, filepath.Join(whole, f)), readFile(t, filepath.Join(got, f))
		if !bytes.Equal(w, g) {
			wl, gl := lines(w), lines(g)
			t.Errorf("%s differs from the run over the whole export: %d lines, want %d (first difference: %s)", f, len(gl), len(wl), firstDiff(wl, gl))
		}
	}
	if diff := cmp.Diff(summaryRows(t, whole), summaryRows(t, got)); diff != "" {
		t.Errorf("summary.csv counts differ (-whole +merged):\n%s", diff)
	}
	if diff := cmp.Diff(withoutHeader(readFile(t, filepath.Join(whole, "report.html"))), withoutHeader(readFile(t, filepath.Join(got, "report.html")))); diff != "" {
		t.Errorf("report.html differs (-whole +merged):\n%s", diff)
	}
}

func mapBase(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func firstDiff(a, b [][]byte) string {
	for i := range min(len(a), len(b)) {
		if !bytes.Equal(a[i], b[i]) {
			return fmt.Sprintf("line %d: %.100s | %.100s", i+1, a[i], b[i])
		}
	}
	return fmt.Sprintf("line %d", min(len(a), len(b))+1)
}

// TestShardsMergeToTheWholeRun runs a faulty export whole, in 3 shards
// merged (given in another order), and as the one shard 0/1: plans,
// problems, care lists, counts and report must all be those of the whole
// run.
func TestShardsMergeToTheWholeRun(t *testing.T) {
	const n, shards = 300, 3
	dir := faultyExport(t, n, shards)
	opt := bulk.Options{MaxLineBytes: 16 << 10}
	whole, wholeOut := runDir(t, dir, opt)

	// The export must hold every fault, or the test proves little.
	for _, kind := range []string{bulk.KindBadJSON, bulk.KindLineTooLong, bulk.KindNoResourceType, bulk.KindNoID, bulk.KindNoPatient,
		bulk.KindDuplicate, bulk.KindTruncated, bulk.KindMissingPatient, bulk.KindPatientOnly, bulk.KindInvalidPatient, bulk.KindOutOfScope} {
		if whole.Problems[kind] == 0 {
			t.Errorf("the export has no %s problem", kind)
		}
	}
	if whole.ResourceTypes["Practitioner"] != 1 || whole.ResourceTypes["Medication"] == 0 {
		t.Errorf("resources %v: want the Practitioner and the Medications counted", whole.ResourceTypes)
	}

	var dirs []string
	var planned int64
	for i := shards - 1; i >= 0; i-- { // any order
		opt := opt
		opt.Shard = bulk.Shard{Index: i, Count: shards}
		s, out := runDir(t, dir, opt)
		if s.Planned == 0 || s.Planned == whole.Planned {
			t.Errorf("shard %d planned %d of %d patients", i, s.Planned, whole.Planned)
		}
		if got := metric(t, out, "shard_index") + "/" + metric(t, out, "shard_count"); got != fmt.Sprintf("%d/%d", i, shards) {
			t.Errorf("shard %d: summary.csv says shard %s", i, got)
		}
		for _, p := range problems(t, out) {
			if i > 0 && p.Patient == "" {
				t.Errorf("shard %d reports a problem of no patient: %+v", i, p)
			}
			if p.Patient != "" && bulk.ShardOf(strings.TrimPrefix(p.Patient, "Patient/"), shards) != i {
				t.Errorf("shard %d reports a problem of another shard's patient: %+v", i, p)
			}
		}
		planned += s.Planned
		dirs = append(dirs, out)
	}
	if planned != whole.Planned {
		t.Errorf("shards planned %d patients, the whole run %d", planned, whole.Planned)
	}
	merged := filepath.Join(t.TempDir(), "merged")
	m, err := bulk.Merge(dirs, merged, bulk.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Merged || m.Shard.Count != shards || m.Patients != whole.Patients {
		t.Errorf("merged summary: merged %v, %d shards, %d patients", m.Merged, m.Shard.Count, m.Patients)
	}
	sameOutput(t, wholeOut, merged)
	if got := metric(t, merged, "shard_index") + "/" + metric(t, merged, "shard_count"); got != "all/3" {
		t.Errorf("merged summary.csv says shard %s, want all/3", got)
	}
	if !bytes.Contains(readFile(t, filepath.Join(merged, "report.html")), []byte("merged from 3 shards")) {
		t.Error("the merged report does not say it was merged")
	}

	t.Run("one shard", func(t *testing.T) {
		opt := opt
		opt.Shard = bulk.Shard{Index: 0, Count: 1}
		_, one := runDir(t, dir, opt)
		sameOutput(t, wholeOut, one)
		merged := filepath.Join(t.TempDir(), "merged")
		if _, err := bulk.Merge([]string{one}, merged, bulk.MergeOptions{}); err != nil {
			t.Fatal(err)
		}
		sameOutput(t, wholeOut, merged)
	})
}

// TestShardOf pins the hash (a change would move patients between shards,
// so shards made by two versions would not fit) and checks that sequential
// ids spread evenly.
func TestShardOf(t *testing.T) {
	for _, tc := range []struct {
		id   string
		n    int
		want int
	}{
		// mix(FNV-1a-64) of "a" is 0x82a2a958a9bece5b (0.510 of 2⁶⁴), of
		// "" 0xefd01f60ba992926 (0.937), of "p-3" 0x4a5299cdbee813fd (0.290).
		{"a", 1, 0}, {"a", 2, 1}, {"a", 3, 1}, {"", 5, 4}, {"p-3", 3, 0},
		{"p-1", 3, 2}, {"p-2", 3, 1}, {"06c45d188009454f", 7, 3},
	} {
		if got := bulk.ShardOf(tc.id, tc.n); got != tc.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tc.id, tc.n, got, tc.want)
		}
	}
	for _, format := range []string{"%d", "patient-%d", "%08d"} {
		count := make([]int, 4)
		for i := range 4000 {
			count[bulk.ShardOf(fmt.Sprintf(format, i), 4)]++
		}
		for k, c := range count {
			if c < 900 || c > 1100 {
				t.Errorf("ids %q: shard %d/4 holds %d of 4000 patients", format, k, c)
			}
		}
	}
}

func TestRunRejectsBadShard(t *testing.T) {
	for _, s := range []bulk.Shard{{Index: 3, Count: 3}, {Index: -1, Count: 2}, {Index: 0, Count: -1}, {Index: 1, Count: 0}} {
		_, err := bulk.Run(t.Context(), nil, t.TempDir(), bulk.Options{AsOf: asOf, Shard: s})
		if err == nil || !strings.Contains(err.Error(), "Options.Shard") {
			t.Errorf("Shard %v: error %v", s, err)
		}
	}
}

// copyDir copies a shard's output directory, to alter it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(dst, e.Name()), readFile(t, filepath.Join(src, e.Name())), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// setMetric changes a row of summary.csv.
func setMetric(t *testing.T, dir, name, value string) {
	t.Helper()
	path := filepath.Join(dir, "summary.csv")
	var out []string
	found := false
	for _, l := range strings.Split(string(readFile(t, path)), "\n") {
		if k, _, _ := strings.Cut(l, ","); k == name {
			l, found = name+","+value, true
		}
		out = append(out, l)
	}
	if !found {
		t.Fatalf("no %s row", name)
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMergeRefuses gives Merge shard outputs that do not fit together:
// each is refused with ErrInvalid and a message naming the reason, and
// nothing is written.
func TestMergeRefuses(t *testing.T) {
	g := generator(t, 120, 22, 0)
	dir := t.TempDir()
	if _, err := g.WriteDir(dir, false); err != nil {
		t.Fatal(err)
	}
	var s [3]string
	for i := range s {
		_, s[i] = runDir(t, dir, bulk.Options{Shard: bulk.Shard{Index: i, Count: 3}})
	}
	_, whole := runDir(t, dir, bulk.Options{})
	merged := filepath.Join(t.TempDir(), "merged")
	if _, err := bulk.Merge(s[:], merged, bulk.MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	altered := func(src string, f func(dir string)) string {
		d := copyDir(t, src)
		f(d)
		return d
	}
	nonEmpty := t.TempDir()
	os.WriteFile(filepath.Join(nonEmpty, "keep.txt"), []byte("mine"), 0o644)

	for _, tc := range []struct {
		name string
		dirs []string
		out  string
		want []string
	}{
		{"missing shard", []string{s[0], s[2]}, "", []string{"shard 1/3 missing"}},
		{"duplicate shard", []string{s[0], s[1], s[1], s[2]}, "", []string{"shard 1/3 given twice"}},
		{"duplicate and missing", []string{s[0], s[0], s[1]}, "", []string{"shard 0/3 given twice", "shard 2/3 missing"}},
		{"no shards", nil, "", []string{"no shard directories"}},
		{"different counts", []string{s[0], s[1], altered(s[2], func(d string) { setMetric(t, d, "shard_count", "4") })}, "",
			[]string{"different shard counts", `"4" in `}},
		{"different as-of", []string{s[0], s[1], altered(s[2], func(d string) { setMetric(t, d, "as_of", "2026-11-22") })}, "",
			[]string{"different as-of dates", `"2026-11-21" in `, `"2026-11-22" in `}},
		{"different engine", []string{s[0], altered(s[1], func(d string) { setMetric(t, d, "engine_version", "0.0.1") }), s[2]}, "",
			[]string{"different engine versions"}},
		{"different knowledge base", []string{s[0], s[1], altered(s[2], func(d string) { setMetric(t, d, "knowledge_version", "kb-old") })}, "",
			[]string{"different knowledge-base versions"}},
		{"different export", []string{s[0], s[1], altered(s[2], func(d string) { setMetric(t, d, "lines", "5") })}, "",
			[]string{"different inputs"}},
		{"a merged output", []string{merged}, "", []string{"is a merged output"}},
		{"a whole run and its shards", []string{whole, s[1]}, "", []string{"different shard counts"}},
		{"not an output", []string{t.TempDir()}, "", []string{"summary.csv", "not an output directory"}},
		{"unknown metric", []string{s[0], s[1], altered(s[2], func(d string) {
			os.WriteFile(filepath.Join(d, "summary.csv"), append(readFile(t, filepath.Join(d, "summary.csv")), "colour,blue\n"...), 0o644)
		})}, "", []string{"metric colour: unknown"}},
		{"shard relabelled", []string{s[0], altered(s[1], func(d string) { setMetric(t, d, "shard_index", "2") }),
			altered(s[2], func(d string) { setMetric(t, d, "shard_index", "1") })}, "", []string{"belongs in shard 2/3, not in this shard 1/3"}},
		{"plans cut short", []string{s[0], altered(s[1], func(d string) {
			p := filepath.Join(d, "plans.ndjson")
			b := readFile(t, p)
			os.WriteFile(p, b[:len(b)-10], 0o644)
		}), s[2]}, "", []string{"plans.ndjson", "cut short"}},
		{"a plan missing", []string{s[0], s[1], altered(s[2], func(d string) {
			p := filepath.Join(d, "plans.ndjson")
			ls := lines(readFile(t, p))
			os.WriteFile(p, append(bytes.Join(ls[1:], []byte("\n")), '\n'), 0o644)
		})}, "", []string{"plans but summary.csv says planned"}},
		{"a care-list row missing", []string{s[0], s[1], altered(s[2], func(d string) {
			p := filepath.Join(d, "care-no_recent_ferritin.csv")
			ls := lines(readFile(t, p))
			os.WriteFile(p, append(bytes.Join(ls[:len(ls)-1], []byte("\n")), '\n'), 0o644)
		})}, "", []string{"care-no_recent_ferritin.csv has", "care_list.no_recent_ferritin"}},
		{"a problem of no patient in shard 1", []string{s[0], altered(s[1], func(d string) {
			os.WriteFile(filepath.Join(d, "problems.ndjson"), []byte(`{"kind":"bad_json","file":"x.ndjson","line":1,"message":"not valid JSON"}`+"\n"), 0o644)
		}), s[2]}, "", []string{"a problem of no patient in shard 1/3"}},
		{"output not empty", s[:], nonEmpty, []string{"exists and is not empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			out := tc.out
			if out == "" {
				out = filepath.Join(parent, "merged")
			}
			_, err := bulk.Merge(tc.dirs, out, bulk.MergeOptions{})
			if !errors.Is(err, ekbom.ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.out == "" {
				if left, _ := os.ReadDir(parent); len(left) != 0 {
					t.Errorf("left behind: %v", left)
				}
			} else if left, _ := os.ReadDir(tc.out); len(left) != 1 {
				t.Errorf("the output directory was changed: %v", left)
			}
		})
	}
	t.Run("into an empty directory", func(t *testing.T) {
		out := t.TempDir()
		if _, err := bulk.Merge(s[:], out, bulk.MergeOptions{}); err != nil {
			t.Fatal(err)
		}
		sameOutput(t, whole, out)
	})
}
