package bulk

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"ekbom"
	"ekbom/engine"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/internal/synth"
	"ekbom/kb"
)

// encodingJSON is how `ekbom assess -format json` writes a plan, without
// the indentation and the newline.
func encodingJSON(t *testing.T, p *ekbom.Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func checkPlanJSON(t *testing.T, name string, p *ekbom.Plan) {
	t.Helper()
	want := encodingJSON(t, p)
	got, err := appendPlan(nil, p)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}

	if !bytes.Equal(want, got) {
		i := 0
		for i < len(want) && i < len(got) && want[i] == got[i] {
			i++
		}
		lo := max(0, i-80)
		t.Fatalf("%s: appendPlan differs from encoding/json at byte %d:\nwant …%s\ngot  …%s", name, i, want[lo:min(len(want), i+80)], got[lo:min(len(got), i+80)])
	}
}

// fill sets every field reachable from v to a value that is not the zero
// value, so that a field added to the plan types and not to appendPlan
// shows up as a difference.
func fill(v reflect.Value, depth int) {
	if v.Type() == reflect.TypeOf(ekbom.Date{}) {
		v.Set(reflect.ValueOf(ekbom.DateOf(2026, 11, 21)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x \"<&>\" \\ \n\t\u2028 µ ≤ \x01 " + v.Type().Name())
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(7 + depth))
	case reflect.Float64:
		v.SetFloat(0.125 + float64(depth))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"b", "a"} {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, depth+1)
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

func TestPlanJSONMatchesEncodingJSON(t *testing.T) {
	var full ekbom.Plan
	fill(reflect.ValueOf(&full).Elem(), 0)
	checkPlanJSON(t, "every field set", &full)
	checkPlanJSON(t, "zero plan", &ekbom.Plan{})

	irls := 0
	odd := &ekbom.Plan{
		PatientID:     "\xff\xfe bad utf-8 \u2029 \x7f",
		Severity:      ekbom.Severity{IRLS: &irls},
		StatusReasons: []string{},
		Findings:      []ekbom.Finding{{Code: "c"}},
		Steps: []ekbom.Step{{ID: "iron", Recommendations: []ekbom.Recommendation{{
			Dose:      &ekbom.Dose{AmountMg: ptr(1e-7), DailyMg: ptr(1e21), MaxDailyMg: ptr(-0.0), TimesPerDay: ptr(123456789.125)},
			Conflicts: []string{}, Schedule: []ekbom.ScheduleItem{{DailyMg: 2.5e-5}},
		}}}},
		Warnings: []ekbom.Warning{{Sources: []string{}}},
		Sources:  map[string]ekbom.SourceRef{},
	}
	checkPlanJSON(t, "edge values", odd)

	if _, err := appendPlan(nil, &ekbom.Plan{Steps: []ekbom.Step{{Recommendations: []ekbom.Recommendation{{Dose: &ekbom.Dose{DailyMg: ptr(math.NaN())}}}}}}); err == nil {
		t.Error("NaN: no error (encoding/json refuses it)")
	}
}

func ptr[T any](v T) *T { return &v }

// TestPlanJSONOnSyntheticPlans compares the encoders on the plans of
// many synthetic patients.
func TestPlanJSONOnSyntheticPlans(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 300
	}
	asOf := ekbom.DateOf(2026, 11, 21)
	g, err := synth.New(synth.Options{Patients: n, Seed: 21, AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := kb.Default()
	e, _ := engine.New(b, engine.Options{})
	var bundle bytes.Buffer
	for i := 0; i < n; i++ {
		bundle.Reset()
		bundle.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
		for j, r := range append(g.Patient(i), g.Medications()...) {
			if j > 0 {
				bundle.WriteByte(',')
			}
			bundle.WriteString(`{"resource":`)
			bundle.Write(r.JSON)
			bundle.WriteByte('}')
		}
		bundle.WriteString("]}")
		res, err := fhir.ReadBundle(bundle.Bytes(), b, fhir.Options{AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		if err := intake.Normalize(res.Patient, b, intake.Options{}); err != nil {
			t.Fatal(err)
		}
		plan, err := e.Evaluate(res.Patient)
		if err != nil {
			t.Fatal(err)
		}
		for _, note := range res.Notes {
			plan.Missing = append(plan.Missing, "FHIR "+note.Resource+": "+note.Message)
		}
		checkPlanJSON(t, g.PatientID(i), plan)
	}
}

func benchPlans(b *testing.B) []*ekbom.Plan {
	asOf := ekbom.DateOf(2026, 11, 21)
	g, _ := synth.New(synth.Options{Patients: 200, Seed: 21, AsOf: asOf})
	kbase, _ := kb.Default()
	e, _ := engine.New(kbase, engine.Options{})
	var out []*ekbom.Plan
	for i := 0; i < 200; i++ {
		var bundle bytes.Buffer
		bundle.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
		for j, r := range append(g.Patient(i), g.Medications()...) {
			if j > 0 {
				bundle.WriteByte(',')
			}
			bundle.WriteString(`{"resource":`)
			bundle.Write(r.JSON)
			bundle.WriteByte('}')
		}
		bundle.WriteString("]}")
		res, _ := fhir.ReadBundle(bundle.Bytes(), kbase, fhir.Options{AsOf: asOf})
		intake.Normalize(res.Patient, kbase, intake.Options{})
		plan, _ := e.Evaluate(res.Patient)
		out = append(out, plan)
	}
	return out
}

func BenchmarkAppendPlan(b *testing.B) {
	plans := benchPlans(b)
	var buf []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf, _ = appendPlan(buf[:0], plans[i%len(plans)])
		i++
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodingJSONPlan(b *testing.B) {
	plans := benchPlans(b)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf.Reset()
		enc.Encode(plans[i%len(plans)])
		i++
	}
	b.SetBytes(int64(buf.Len()))
}
