package bulk_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ekbom"
	"ekbom/engine"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/internal/bulk"
	"ekbom/internal/synth"
	"ekbom/kb"
)

var asOf = ekbom.DateOf(2026, 11, 21)

var dateCmp = cmp.Comparer(func(a, b ekbom.Date) bool { return a == b })

// planLine is one line of plans.ndjson.
type planLine struct {
	Patient string `json:"patient"`
	ekbom.Plan
}

func generator(t testing.TB, n int, seed uint64, noise float64) *synth.Generator {
	t.Helper()
	g, err := synth.New(synth.Options{Patients: n, Seed: seed, AsOf: asOf, Noise: noise})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func stream(t testing.TB, g *synth.Generator) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := g.WriteStream(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func run(t testing.TB, inputs []bulk.Input, opt bulk.Options) (*bulk.Summary, string) {
	t.Helper()
	out := t.TempDir()
	if opt.AsOf.IsZero() {
		opt.AsOf = asOf
	}
	if opt.TempDir == "" {
		opt.TempDir = t.TempDir()
	}
	s, err := bulk.Run(context.Background(), inputs, out, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s, out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lines(b []byte) [][]byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(b, []byte("\n"))
}

func plans(t testing.TB, dir string) map[string]planLine {
	t.Helper()
	out := map[string]planLine{}
	for _, l := range lines(readFile(t, filepath.Join(dir, "plans.ndjson"))) {
		if !bytes.HasPrefix(l, []byte(`{"patient":"Patient/`)) {
			t.Fatalf("plan line does not start with the patient: %.80s", l)
		}
		var p planLine
		if err := json.Unmarshal(l, &p); err != nil {
			t.Fatal(err)
		}
		out[p.Patient] = p
	}
	return out
}

func problems(t testing.TB, dir string) []bulk.Problem {
	t.Helper()
	var out []bulk.Problem
	for _, l := range lines(readFile(t, filepath.Join(dir, "problems.ndjson"))) {
		var p bulk.Problem
		if err := json.Unmarshal(l, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestRunStream(t *testing.T) {
	g := generator(t, 1000, 1, 0)
	s, out := run(t, []bulk.Input{bulk.StreamInput("stdin", bytes.NewReader(stream(t, g)))}, bulk.Options{})
	if s.Patients != 1000 || s.Planned != 1000 {
		t.Errorf("patients %d, planned %d; want 1000", s.Patients, s.Planned)
	}
	if ps := problems(t, out); len(ps) != 0 {
		t.Errorf("%d problems in a clean export, first %+v", len(ps), ps[0])
	}
	got := plans(t, out)
	if len(got) != 1000 {
		t.Errorf("%d plans", len(got))
	}
	for i := 0; i < 1000; i++ {
		p, ok := got["Patient/"+g.PatientID(i)]
		if !ok {
			t.Fatalf("no plan for patient %d", i)
		}
		if p.PatientID != g.PatientID(i) || p.AsOf != asOf {
			t.Errorf("plan %d: patient_id %q, as_of %s", i, p.PatientID, p.AsOf)
		}
	}
	for _, f := range []string{"report.html", "summary.csv", "care-augmentation.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	for _, l := range s.CareLists {
		if l.Count == 0 {
			t.Errorf("care list %s is empty in 1000 patients", l.ID)
		}
		if n := len(lines(readFile(t, filepath.Join(out, l.File)))) - 1; int64(n) != l.Count {
			t.Errorf("%s has %d rows, count %d", l.File, n, l.Count)
		}
	}
}

// assess plans a Bundle the way `ekbom assess -format json` does.
func assess(t testing.TB, b *kb.Base, e *engine.Engine, bundle []byte) *ekbom.Plan {
	t.Helper()
	res, err := fhir.ReadBundle(bundle, b, fhir.Options{AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if err := intake.Normalize(res.Patient, b, intake.Options{Today: asOf}); err != nil {
		t.Fatal(res.Locate(err))
	}
	plan, err := e.Evaluate(res.Patient)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range res.Notes {
		plan.Missing = append(plan.Missing, "FHIR "+n.Resource+": "+n.Message)
	}
	// Through JSON, as the CLI prints it.
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	var out ekbom.Plan
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestSameAsOneAtATime checks that batch plans equal the plans of the same
// patients read one Bundle at a time, from a directory of gzipped files.
func TestSameAsOneAtATime(t *testing.T) {
	const n = 60
	g := generator(t, n, 2, 0)
	dir := t.TempDir()
	if _, err := g.WriteDir(dir, true); err != nil {
		t.Fatal(err)
	}
	inputs, _, err := bulk.DirInputs(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, out := run(t, inputs, bulk.Options{})
	got := plans(t, out)
	b, _ := kb.Default()
	e, _ := engine.New(b, engine.Options{})
	bundles := bundlesFromDir(t, dir)
	if len(bundles) != n {
		t.Fatalf("%d bundles", len(bundles))
	}
	for ref, bundle := range bundles {
		want := assess(t, b, e, bundle)
		gotPlan, ok := got[ref]
		if !ok {
			t.Errorf("%s: no batch plan", ref)
			continue
		}
		if diff := cmp.Diff(want, &gotPlan.Plan, dateCmp); diff != "" {
			t.Errorf("%s: batch plan differs from the one-at-a-time plan (-want +got):\n%s", ref, diff)
		}
	}
}

// bundlesFromDir groups the lines of an export directory per patient, in
// file-name then line order with the Patient first, and wraps each group
// (with every Medication of the export) in a Bundle.
func bundlesFromDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson*"))
	groups := map[string][][]byte{}
	var meds [][]byte
	for _, f := range files {
		data := readFile(t, f)
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if _, err := b.ReadFrom(zr); err != nil {
				t.Fatal(err)
			}
			data = b.Bytes()
		}
		for _, l := range lines(data) {
			var h struct {
				ResourceType, ID string
				Subject          struct{ Reference string }
			}
			if err := json.Unmarshal(l, &h); err != nil {
				t.Fatal(err)
			}
			switch h.ResourceType {
			case "Medication":
				meds = append(meds, l)
			case "Patient":
				ref := "Patient/" + h.ID
				groups[ref] = append([][]byte{l}, groups[ref]...)
			default:
				groups[h.Subject.Reference] = append(groups[h.Subject.Reference], l)
			}
		}
	}
	out := map[string][]byte{}
	for ref, ls := range groups {
		var b bytes.Buffer
		b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
		for i, l := range append(ls, meds...) {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"resource":%s}`, l)
		}
		b.WriteString("]}")
		out[ref] = b.Bytes()
	}
	return out
}

// TestOutputIsStable runs the same export with different workers and
// partition sizes (forcing many partitions, and splits of partitions that
// turn out too big): plans.ndjson must be the same bytes. The stream form of
// the export holds the same resources in another order, so its plans may
// list the reader's notes in another order, but the patients come in the
// same order.
func TestOutputIsStable(t *testing.T) {
	g := generator(t, 400, 3, 0)
	dir := t.TempDir()
	if _, err := g.WriteDir(dir, false); err != nil {
		t.Fatal(err)
	}
	inputs, _, _ := bulk.DirInputs(dir)
	data := stream(t, g)
	_, a := run(t, inputs, bulk.Options{Workers: 1})
	_, b := run(t, inputs, bulk.Options{Workers: 3, PartitionBytes: 8 << 10})
	_, c := run(t, []bulk.Input{bulk.StreamInput("stdin", bytes.NewReader(data))}, bulk.Options{Workers: 2})
	_, d := run(t, []bulk.Input{bulk.StreamInput("stdin", bytes.NewReader(data))}, bulk.Options{Workers: 3, PartitionBytes: 32 << 10})
	same := func(x, y, file string) {
		t.Helper()
		if !bytes.Equal(readFile(t, filepath.Join(x, file)), readFile(t, filepath.Join(y, file))) {
			t.Errorf("%s differs between runs of the same export", file)
		}
	}
	same(a, b, "plans.ndjson")
	same(a, b, "care-augmentation.csv")
	counts := func(dir string) string { // summary.csv without the figures of the run itself
		var keep []string
		for _, l := range strings.Split(string(readFile(t, filepath.Join(dir, "summary.csv"))), "\n") {
			switch strings.SplitN(l, ",", 2)[0] {
			case "workers", "partitions", "elapsed_seconds", "elapsed_seconds_total", "read_seconds", "dedupe_seconds", "plan_seconds", "patients_per_second", "mb_per_second":
			default:
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if diff := cmp.Diff(counts(a), counts(b)); diff != "" {
		t.Errorf("summary.csv differs between runs (-a +b):\n%s", diff)
	}
	same(c, d, "plans.ndjson")
	order := func(dir string) []string {
		var out []string
		for _, l := range lines(readFile(t, filepath.Join(dir, "plans.ndjson"))) {
			var p planLine
			if err := json.Unmarshal(l, &p); err != nil || p.Patient == "" {
				t.Fatalf("%s: plan line without a patient (%v): %.200s", dir, err, l)
			}
			out = append(out, p.Patient)
		}
		return out
	}
	oa, oc := order(a), order(c)
	if len(oa) != 400 {
		t.Fatalf("%d plans", len(oa))
	}
	if diff := cmp.Diff(oa, oc); diff != "" {
		t.Errorf("patients in another order from the stream (-dir +stream):\n%s", diff)
	}
}

// TestCancel stops runs at once and in the middle of planning: Run returns
// the context's error and leaves no temporary files.
func TestCancel(t *testing.T) {
	data := stream(t, generator(t, 3000, 15, 0))
	for _, when := range []string{"start", "plan"} {
		t.Run(when, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if when == "start" {
				cancel()
			}
			tmp := t.TempDir()
			opt := bulk.Options{AsOf: asOf, TempDir: tmp, ProgressEvery: time.Millisecond, Workers: 2,
				Progress: func(p bulk.Progress) {
					if p.Phase == when && p.Patients > 10 {
						cancel()
					}
				}}
			_, err := bulk.Run(ctx, []bulk.Input{bulk.StreamInput("stdin", bytes.NewReader(data))}, t.TempDir(), opt)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want context.Canceled", err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestRLSNotCodedList: the rls_not_coded care list holds exactly the
// patients whose export has no RLS Condition (synth leaves it off when the
// id's last hex digit is 0), and says whether the questionnaire is all
// that shows RLS.
func TestRLSNotCodedList(t *testing.T) {
	const n = 400
	g := generator(t, n, 3, 0)
	_, out := run(t, []bulk.Input{bulk.StreamInput("stdin", bytes.NewReader(stream(t, g)))}, bulk.Options{})
	want := map[string]bool{}
	for i := range n {
		if id := g.PatientID(i); strings.HasSuffix(id, "0") {
			want["Patient/"+id] = true
		}
	}
	if len(want) == 0 {
		t.Fatal("no patient without an RLS Condition in the sample: pick another seed")
	}
	rows := lines(readFile(t, filepath.Join(out, "care-rls_not_coded.csv")))
	got := map[string]bool{}
	for _, row := range rows[1:] {
		f := strings.Split(string(row), ",")
		got[f[0]] = true
		if !strings.Contains(string(row), "questionnaire") {
			t.Errorf("row without a reason: %s", row)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rls_not_coded (-want +got):\n%s", d)
	}
}
