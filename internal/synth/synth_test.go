package synth_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ekbom"
	"ekbom/engine"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/internal/synth"
	"ekbom/kb"
)

var asOf = ekbom.DateOf(2026, 11, 21)

func newGen(t testing.TB, opt synth.Options) *synth.Generator {
	t.Helper()
	if opt.AsOf.IsZero() {
		opt.AsOf = asOf
	}
	g, err := synth.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// bundle wraps resources in a collection Bundle.
func bundle(res []synth.Resource, meds []synth.Resource) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i, r := range append(append([]synth.Resource{}, res...), meds...) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"resource":`)
		b.Write(r.JSON)
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes()
}

// TestPatientsAreValid reads every generated patient as `ekbom assess`
// does: none may be invalid, and the mix must reach the parts of the
// pathway the generator is meant to exercise.
func TestPatientsAreValid(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	g := newGen(t, synth.Options{Patients: n, Seed: 11})
	b, err := kb.Default()
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	meds := g.Medications()
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		res := g.Patient(i)
		if res[0].Type != "Patient" {
			t.Fatalf("patient %d: first resource is %s", i, res[0].Type)
		}
		r, err := fhir.ReadBundle(bundle(res, meds), b, fhir.Options{AsOf: asOf})
		if err != nil {
			t.Fatalf("patient %d (%s): %v", i, g.PatientID(i), err)
		}
		if err := intake.Normalize(r.Patient, b, intake.Options{Today: asOf}); err != nil {
			t.Fatalf("patient %d (%s): %v\n%s", i, g.PatientID(i), r.Locate(err), bundle(res, nil))
		}
		plan, err := e.Evaluate(r.Patient)
		if err != nil {
			t.Fatalf("patient %d: %v", i, err)
		}
		seen["pathway "+plan.Pathway]++
		seen["status "+string(plan.Status)]++
		seen["sex "+string(r.Patient.Sex)]++
		for _, f := range plan.Findings {
			seen["finding "+f.Code]++
		}
		for _, w := range plan.Warnings {
			seen["warning "+w.Code]++
			if w.Code == ekbom.WarnRespiratoryDepression && strings.Contains(strings.Join(w.Because, ";"), "untreated sleep apnea") {
				seen["opioid with untreated sleep apnea"]++
			}
		}
		if *r.Patient.Age >= 65 {
			seen["age 65+"]++
		}
		if len(r.Patient.IronInfusions) > 0 {
			seen["iv iron given"]++
		}
	}
	for _, want := range []string{"pathway standard", "pathway pregnancy", "pathway esrd",
		"status refractory", "status not_yet_refractory", "sex female", "sex male", "age 65+", "iv iron given",
		"finding augmentation_met", "finding augmentation_suspected", "finding dopaminergic_dose_above_rls_max",
		"finding exacerbators_present", "finding iron_not_optimized", "finding iron_optimized",
		"warning respiratory_depression", "warning iron_overload", "warning renal_dosing", "warning pregnancy",
		"warning stale_or_improper_iron_test", "warning falls_sedation", "opioid with untreated sleep apnea"} {
		if seen[want] == 0 {
			t.Errorf("no patient with %s in %d", want, n)
		}
	}
	t.Logf("mix of %d patients: %v", n, seen)
}

func TestStreamIsDeterministic(t *testing.T) {
	write := func(seed uint64, workers int) []byte {
		var b bytes.Buffer
		if _, err := newGen(t, synth.Options{Patients: 300, Seed: seed, Workers: workers, Noise: 0.02}).WriteStream(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b, c := write(5, 1), write(5, 4), write(6, 2)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different bytes with 1 and 4 workers")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 5 and 6 gave the same bytes")
	}
}

// TestWriteDir checks the directory form: one file per type, gzipped, the
// same resources as the stream, and every line valid JSON without noise.
func TestWriteDir(t *testing.T) {
	g := newGen(t, synth.Options{Patients: 200, Seed: 3})
	dir := t.TempDir()
	st, err := g.WriteDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson.gz"))
	got := map[string]int{}
	for _, f := range files {
		typ := strings.TrimSuffix(filepath.Base(f), ".ndjson.gz")
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var h struct{ ResourceType string }
			if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.ResourceType != typ {
				t.Fatalf("%s: line %q: %v", f, sc.Text(), err)
			}
			got[typ]++
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}
	for typ, n := range st.Resources {
		if got[typ] != n {
			t.Errorf("%s: %d lines, stats say %d", typ, got[typ], n)
		}
	}
	if got["Patient"] != 200 {
		t.Errorf("%d patients", got["Patient"])
	}
	for _, typ := range []string{"Observation", "Condition", "MedicationRequest", "MedicationStatement", "MedicationAdministration", "QuestionnaireResponse", "Encounter", "Medication"} {
		if got[typ] == 0 {
			t.Errorf("no %s", typ)
		}
	}
	var stream bytes.Buffer
	st2, err := g.WriteStream(&stream)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Lines != st.Lines || st2.Bytes != st.Bytes {
		t.Errorf("stream has %d lines, %d bytes; directory %d, %d", st2.Lines, st2.Bytes, st.Lines, st.Bytes)
	}
}

func TestNoise(t *testing.T) {
	var b bytes.Buffer
	st, err := newGen(t, synth.Options{Patients: 500, Seed: 9, Noise: 0.01}).WriteStream(&b)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{synth.NoiseMalformed, synth.NoiseDuplicate, synth.NoiseOrphan, synth.NoiseNoResourceType, synth.NoiseUnknownPatient} {
		if st.Noise[k] == 0 {
			t.Errorf("no %s noise: %v", k, st.Noise)
		}
	}
	bad := 0
	for _, l := range bytes.Split(bytes.TrimSuffix(b.Bytes(), []byte("\n")), []byte("\n")) {
		if !json.Valid(l) {
			bad++
		}
	}
	if bad != st.Noise[synth.NoiseMalformed] {
		t.Errorf("%d invalid lines, %d malformed", bad, st.Noise[synth.NoiseMalformed])
	}
}

func TestOptions(t *testing.T) {
	for _, opt := range []synth.Options{{Patients: 1}, {Patients: -1, AsOf: asOf}, {Patients: 1, AsOf: asOf, Noise: 2}} {
		if _, err := synth.New(opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
}
