package bulk_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ekbom/internal/bulk"
	"ekbom/internal/synth"
)

// export writes n synthetic patients as a plain directory and returns it.
func export(t *testing.T, n int, seed uint64) (string, *synth.Generator) {
	t.Helper()
	g := generator(t, n, seed, 0)
	dir := t.TempDir()
	if _, err := g.WriteDir(dir, false); err != nil {
		t.Fatal(err)
	}
	return dir, g
}

// appendLines adds lines to a file of the export and returns the number
// of the first one.
func appendLines(t *testing.T, path string, add ...string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	first := int64(len(lines(data))) + 1
	for _, l := range add {
		data = append(data, l+"\n"...)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return first
}

// insertLine puts a line before line no (from 1) of a file.
func insertLine(t *testing.T, path string, no int, line string) {
	t.Helper()
	ls := lines(readFile(t, path))
	out := append(append(append([][]byte{}, ls[:no-1]...), []byte(line)), ls[no-1:]...)
	if err := os.WriteFile(path, append(bytes.Join(out, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runDir(t *testing.T, dir string, opt bulk.Options) (*bulk.Summary, string) {
	t.Helper()
	inputs, _, err := bulk.DirInputs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, inputs, opt)
}

// find returns the problems of a kind.
func find(ps []bulk.Problem, kind string) []bulk.Problem {
	var out []bulk.Problem
	for _, p := range ps {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

// wantProblem checks that a problem of kind is reported at file:line (line
// 0: any) and its message contains msg.
func wantProblem(t *testing.T, ps []bulk.Problem, kind, file string, line int64, msg string) bulk.Problem {
	t.Helper()
	for _, p := range find(ps, kind) {
		if p.File == file && (line == 0 || p.Line == line) && strings.Contains(p.Message+strings.Join(p.Details, "\n"), msg) {
			return p
		}
	}
	t.Errorf("no %s problem at %s:%d with %q; problems:\n%s", kind, file, line, msg, dump(ps))
	return bulk.Problem{}
}

func dump(ps []bulk.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.Kind + " " + p.Where() + " " + p.Resource + " " + p.Patient + ": " + p.Message + " " + strings.Join(p.Details, " | ") + "\n")
	}
	return b.String()
}

func TestTruncatedGzip(t *testing.T) {
	g := generator(t, 40, 4, 0)
	dir := t.TempDir()
	if _, err := g.WriteDir(dir, true); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "Observation.ndjson.gz")
	data := readFile(t, path)
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	s, out := runDir(t, dir, bulk.Options{})
	ps := problems(t, out)
	p := wantProblem(t, ps, bulk.KindTruncated, "Observation.ndjson.gz", 0, "ends early")
	if p.Line <= 0 {
		t.Errorf("truncated problem does not say the line reached: %+v", p)
	}
	if s.Planned != 40 {
		t.Errorf("%d plans; want all 40 (with the observations read before the end)", s.Planned)
	}
	if n := s.ResourceTypes["Observation"]; n != p.Line {
		t.Errorf("%d observations read, the problem says line %d was the last", n, p.Line)
	}
}

func TestCorruptGzipHeader(t *testing.T) {
	dir, _ := export(t, 5, 5)
	if err := os.WriteFile(filepath.Join(dir, "Encounter.ndjson.gz"), []byte("\x1f\x8bnot gzip at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, out := runDir(t, dir, bulk.Options{})
	wantProblem(t, problems(t, out), bulk.KindUnreadable, "Encounter.ndjson.gz", 0, "gzip")
	if s.Planned != 5 {
		t.Errorf("%d plans", s.Planned)
	}
}

func TestBadLines(t *testing.T) {
	dir, g := export(t, 20, 6)
	pid := g.PatientID(3)
	cond := filepath.Join(dir, "Condition.ndjson")
	obs := filepath.Join(dir, "Observation.ndjson")
	insertLine(t, cond, 3, `this is not json`)
	insertLine(t, obs, 5, `{"resourceType":"Observation","id":"cut","subject":{"reference":"Patient/`+pid+`"},"valueQuantity":{"val`)
	first := appendLines(t, obs,
		`[1,2,3]`,
		`{"id":"no-type","subject":{"reference":"Patient/`+pid+`"}}`,
		``,
		`   `,
		// Passes the quick scan of pass 1 but is not JSON: found in pass 2.
		`{"resourceType":"Observation","id":"lit","subject":{"reference":"Patient/`+pid+`"},"valueQuantity":{"value":tru}}`,
		`{"resourceType":"Observation","id":"long","subject":{"reference":"Patient/`+pid+`"},"note":"`+strings.Repeat("x", 5000)+`"}`,
	)
	s, out := runDir(t, dir, bulk.Options{MaxLineBytes: 4096})
	ps := problems(t, out)
	wantProblem(t, ps, bulk.KindBadJSON, "Condition.ndjson", 3, "not valid JSON")
	wantProblem(t, ps, bulk.KindBadJSON, "Observation.ndjson", 5, "not valid JSON")
	wantProblem(t, ps, bulk.KindBadJSON, "Observation.ndjson", first, "not a JSON object")
	wantProblem(t, ps, bulk.KindNoResourceType, "Observation.ndjson", first+1, "without resourceType")
	p := wantProblem(t, ps, bulk.KindBadJSON, "Observation.ndjson", first+4, "not valid JSON")
	if p.Patient != "Patient/"+pid || p.Resource != "Observation/lit" {
		t.Errorf("pass-2 bad line names %q %q", p.Resource, p.Patient)
	}
	wantProblem(t, ps, bulk.KindLineTooLong, "Observation.ndjson", first+5, "longer than 4096")
	if s.Planned != 20 {
		t.Errorf("%d plans; bad lines must not stop a patient's plan:\n%s", s.Planned, dump(ps))
	}
	if n := len(ps); n != 6 {
		t.Errorf("%d problems, want 6 (blank lines are not problems):\n%s", n, dump(ps))
	}
}

func TestOrphansAndMissingPatients(t *testing.T) {
	dir, _ := export(t, 10, 7)
	obs := filepath.Join(dir, "Observation.ndjson")
	first := appendLines(t, obs,
		`{"resourceType":"Observation","id":"orphan-1","status":"final","code":{"text":"x"}}`,
		`{"resourceType":"Observation","id":"orphan-2","subject":{"reference":"Group/g1"}}`,
		`{"resourceType":"Observation","id":"lost-1","subject":{"reference":"Patient/nobody"}}`,
		`{"resourceType":"Observation","id":"lost-2","subject":{"reference":"https://ehr.example/fhir/Patient/nobody"}}`,
		`{"resourceType":"Practitioner","id":"dr-1"}`,
	)
	appendLines(t, filepath.Join(dir, "Patient.ndjson"),
		`{"resourceType":"Patient","gender":"female","birthDate":"1970-01-01"}`,
		`{"resourceType":"Patient","id":"alone","gender":"male","birthDate":"1950-05-05"}`)
	s, out := runDir(t, dir, bulk.Options{})
	ps := problems(t, out)
	wantProblem(t, ps, bulk.KindNoPatient, "Observation.ndjson", first, "no subject or patient reference")
	wantProblem(t, ps, bulk.KindNoPatient, "Observation.ndjson", first+1, `"Group/g1" is not a Patient reference`)
	p := wantProblem(t, ps, bulk.KindMissingPatient, "Observation.ndjson", first+2, "2 resources about Patient/nobody")
	if p.Patient != "Patient/nobody" {
		t.Errorf("missing patient problem names %q", p.Patient)
	}
	wantProblem(t, ps, bulk.KindNoID, "Patient.ndjson", 11, "without id")
	wantProblem(t, ps, bulk.KindPatientOnly, "Patient.ndjson", 12, "no other resources")
	if s.MissingPatient != 1 || s.Patients != 11 || s.Planned != 11 {
		t.Errorf("missing %d, patients %d, planned %d; want 1, 11, 11", s.MissingPatient, s.Patients, s.Planned)
	}
	if len(find(ps, bulk.KindNoPatient)) != 2 {
		t.Errorf("a Practitioner without a patient is not a problem:\n%s", dump(ps))
	}
}

func TestDuplicateIDs(t *testing.T) {
	dir, g := export(t, 12, 8)
	_, clean := runDir(t, dir, bulk.Options{})
	pat := filepath.Join(dir, "Patient.ndjson")
	obs := filepath.Join(dir, "Observation.ndjson")
	pl := lines(readFile(t, pat))
	ol := lines(readFile(t, obs))
	pFirst := appendLines(t, pat, string(pl[4]))
	oFirst := appendLines(t, obs, string(ol[0]), string(ol[0]))
	// The same Observation id filed under another patient: a clash, not a
	// repeat of the same patient's data; still the first is kept.
	clash := strings.Replace(string(ol[1]), "Patient/"+g.PatientID(0), "Patient/"+g.PatientID(1), 1)
	cFirst := appendLines(t, obs, clash)
	med := lines(readFile(t, filepath.Join(dir, "Medication.ndjson")))
	mFirst := appendLines(t, filepath.Join(dir, "Medication.ndjson"), string(med[2]))

	s, out := runDir(t, dir, bulk.Options{})
	ps := problems(t, out)
	wantProblem(t, ps, bulk.KindDuplicate, "Patient.ndjson", pFirst, "(first at Patient.ndjson:5)")
	wantProblem(t, ps, bulk.KindDuplicate, "Observation.ndjson", oFirst, "(first at Observation.ndjson:1)")
	wantProblem(t, ps, bulk.KindDuplicate, "Observation.ndjson", oFirst+1, "(first at Observation.ndjson:1)")
	wantProblem(t, ps, bulk.KindDuplicate, "Observation.ndjson", cFirst, "(first at Observation.ndjson:2)")
	wantProblem(t, ps, bulk.KindDuplicate, "Medication.ndjson", mFirst, "(first at Medication.ndjson:3)")
	if len(ps) != 5 {
		t.Errorf("%d problems, want 5:\n%s", len(ps), dump(ps))
	}
	if s.Planned != 12 {
		t.Errorf("%d plans", s.Planned)
	}
	if !bytes.Equal(readFile(t, filepath.Join(clean, "plans.ndjson")), readFile(t, filepath.Join(out, "plans.ndjson"))) {
		t.Error("plans changed: repeats must be left out")
	}
}

func TestMissingPatientFile(t *testing.T) {
	dir, _ := export(t, 8, 9)
	if err := os.Remove(filepath.Join(dir, "Patient.ndjson")); err != nil {
		t.Fatal(err)
	}
	s, out := runDir(t, dir, bulk.Options{})
	ps := problems(t, out)
	if len(find(ps, bulk.KindNoPatients)) != 1 {
		t.Errorf("no %s problem:\n%s", bulk.KindNoPatients, dump(ps))
	}
	missing := find(ps, bulk.KindMissingPatient)
	if len(missing) != 8 || s.MissingPatient != 8 {
		t.Errorf("%d missing-patient problems (summary %d), want 8", len(missing), s.MissingPatient)
	}
	for _, p := range missing {
		if p.File == "" || p.Line == 0 || p.Patient == "" {
			t.Errorf("missing-patient problem without its place: %+v", p)
		}
	}
	if s.Planned != 0 || len(lines(readFile(t, filepath.Join(out, "plans.ndjson")))) != 0 {
		t.Errorf("%d plans without patients", s.Planned)
	}
}

func TestInvalidAndOutOfScopePatients(t *testing.T) {
	dir, _ := export(t, 5, 10)
	first := appendLines(t, filepath.Join(dir, "Patient.ndjson"),
		`{"resourceType":"Patient","id":"bad-gender","gender":"unknown","birthDate":"1960-01-01"}`,
		`{"resourceType":"Patient","id":"child","gender":"female","birthDate":"2015-06-01"}`,
	)
	ofirst := appendLines(t, filepath.Join(dir, "Observation.ndjson"),
		`{"resourceType":"Observation","id":"bad-value","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2276-4"}]},"subject":{"reference":"Patient/child"},"effectiveDateTime":"2026-01-01","valueQuantity":{"value":"high","unit":"ng/mL"}}`,
	)
	s, out := runDir(t, dir, bulk.Options{})
	ps := problems(t, out)
	p := wantProblem(t, ps, bulk.KindInvalidPatient, "Patient.ndjson", first, "gender")
	if p.Patient != "Patient/bad-gender" || !strings.HasPrefix(p.Details[0], "Patient.ndjson:6: entry[0].resource.gender") {
		t.Errorf("invalid patient problem: %+v", p)
	}
	// A value of the wrong type is a validation problem, located at its line.
	wantProblem(t, ps, bulk.KindInvalidPatient, "Patient.ndjson", first+1, "Observation.ndjson:"+itoa(ofirst)+": entry[1].resource.valueQuantity.value")
	if s.Invalid != 2 || s.Planned != 5 || s.Patients != 7 {
		t.Errorf("invalid %d, planned %d, patients %d", s.Invalid, s.Planned, s.Patients)
	}
	// Without the bad value, the child is out of scope.
	data := readFile(t, filepath.Join(dir, "Observation.ndjson"))
	os.WriteFile(filepath.Join(dir, "Observation.ndjson"), bytes.ReplaceAll(data, []byte(`"value":"high"`), []byte(`"value":40`)), 0o644)
	s, out = runDir(t, dir, bulk.Options{})
	wantProblem(t, problems(t, out), bulk.KindOutOfScope, "Patient.ndjson", first+1, "18")
	if s.OutOfScope != 1 {
		t.Errorf("out of scope %d", s.OutOfScope)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestUnreadableInput(t *testing.T) {
	dir, _ := export(t, 3, 11)
	inputs, _, _ := bulk.DirInputs(dir)
	inputs = append(inputs, bulk.FileInput(filepath.Join(dir, "Nope.ndjson")))
	s, out := run(t, inputs, bulk.Options{})
	wantProblem(t, problems(t, out), bulk.KindUnreadable, "Nope.ndjson", 0, "cannot open")
	if s.Planned != 3 {
		t.Errorf("%d plans", s.Planned)
	}
}

// TestNoiseIsReported runs a noisy synthetic export: every deliberate
// problem is counted.
func TestNoiseIsReported(t *testing.T) {
	g := generator(t, 600, 12, 0.01)
	var b bytes.Buffer
	st, err := g.WriteStream(&b)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(b.Bytes())
	zw.Close()
	s, out := run(t, []bulk.Input{bulk.StreamInput("stdin", &gz)}, bulk.Options{})
	ps := problems(t, out)
	for kind, want := range map[string]int{
		bulk.KindBadJSON:        st.Noise[synth.NoiseMalformed],
		bulk.KindDuplicate:      st.Noise[synth.NoiseDuplicate],
		bulk.KindNoPatient:      st.Noise[synth.NoiseOrphan],
		bulk.KindNoResourceType: st.Noise[synth.NoiseNoResourceType],
	} {
		if got := len(find(ps, kind)); got != want || want == 0 {
			t.Errorf("%s: %d problems, %d made", kind, got, want)
		}
	}
	if got := len(find(ps, bulk.KindMissingPatient)); got < st.Noise[synth.NoiseUnknownPatient] {
		t.Errorf("%d missing-patient problems, %d made", got, st.Noise[synth.NoiseUnknownPatient])
	}
	for _, p := range ps {
		if p.File != "stdin" || p.Line <= 0 {
			t.Errorf("problem without its line: %+v", p)
		}
	}
	if s.Invalid != 0 {
		t.Errorf("%d invalid patients:\n%s", s.Invalid, dump(find(ps, bulk.KindInvalidPatient)))
	}
}

func TestReportHTML(t *testing.T) {
	dir, _ := export(t, 30, 13)
	appendLines(t, filepath.Join(dir, "Observation.ndjson"),
		`{"resourceType":"Observation","id":"<script>alert(1)</script>","status":"final"}`)
	_, out := runDir(t, dir, bulk.Options{})
	html := string(readFile(t, filepath.Join(out, "report.html")))
	for _, want := range []string{"ekbom supports clinical judgement; it is not a medical device", "<svg", "Care lists",
		"Dopamine agonist above the RLS maximum", "no_patient_reference", "&lt;script&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", "src=\"http", "href=\"http", "<link", "@import"} {
		if strings.Contains(html, bad) {
			t.Errorf("report.html contains %q: it must be self-contained and escaped", bad)
		}
	}
	csv := string(readFile(t, filepath.Join(out, "summary.csv")))
	for _, want := range []string{"metric,value\n", "\npatients,30\n", "\nplanned,30\n", "\nproblem.no_patient_reference,1\n", "\ncare_list.augmentation,"} {
		if !strings.Contains(csv, want) {
			t.Errorf("summary.csv lacks %q", want)
		}
	}
}

// TestSharedLimitIsDeterministic: when the shared Medications exceed
// Options.MaxSharedBytes, the ones kept are the longest prefix of the input
// that fits, whatever order the pass-1 workers reach them in, so repeated
// runs (and shards, which rely on it) write the same plans and problems.
// Found in review: kept first come, first served, plans differed in 8 of
// 40 runs.
func TestSharedLimitIsDeterministic(t *testing.T) {
	g := generator(t, 200, 7, 0)
	dir := t.TempDir()
	if _, err := g.WriteDir(dir, false); err != nil {
		t.Fatal(err)
	}
	meds := lines(readFile(t, filepath.Join(dir, "Medication.ndjson")))
	if len(meds) < 4 {
		t.Fatalf("%d Medication lines: the test needs more", len(meds))
	}
	os.Remove(filepath.Join(dir, "Medication.ndjson"))
	a := append(bytes.Join(meds[:len(meds)/2], []byte("\n")), '\n')
	b := append(bytes.Join(meds[len(meds)/2:], []byte("\n")), '\n')
	os.WriteFile(filepath.Join(dir, "Medication-a.ndjson"), a, 0o644)
	os.WriteFile(filepath.Join(dir, "Medication-b.ndjson"), b, 0o644)
	opt := bulk.Options{Workers: 4, MaxSharedBytes: int64(max(len(a), len(b)) + 10)}
	_, first := runDir(t, dir, opt)
	wantPlans := readFile(t, filepath.Join(first, "plans.ndjson"))
	wantProblems := readFile(t, filepath.Join(first, "problems.ndjson"))
	if !bytes.Contains(wantProblems, []byte(`"shared_limit"`)) {
		t.Fatal("no shared_limit problem: the limit was not reached")
	}
	for i := 0; i < 15; i++ {
		_, out := runDir(t, dir, opt)
		if !bytes.Equal(wantPlans, readFile(t, filepath.Join(out, "plans.ndjson"))) {
			t.Fatalf("run %d: plans differ", i+2)
		}
		if !bytes.Equal(wantProblems, readFile(t, filepath.Join(out, "problems.ndjson"))) {
			t.Fatalf("run %d: problems differ", i+2)
		}
	}
}
