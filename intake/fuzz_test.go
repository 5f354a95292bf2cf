package intake

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzDecode(f *testing.F) {
	b := base(f)
	for _, name := range []string{"testdata/patient.yaml", "testdata/patient.json"} {
		f.Add(readFile(f, name), "")
	}
	for _, s := range []string{
		minimal,
		"as_of: 2026-11-21\nage: 16\nsex: male\n",
		"as_of: 2026-13-01\nage: sixty\nsex: f\nlabs: [{test: ferritin, valu: 4, unit: kg}]\n",
		"labs: [{test: iron, value: 250, unit: µg/dL, date: 2026-10-01}, {test: tibc, value: 200, unit: µg/dL, date: 2026-10-01}]\nage: 50\nsex: male\n",
		"medications: [{sig: carbidopa/levodopa 25/100 mg tid}, {name: Neupro, dose_mg_per_24h: 2}, {name: 7804}]\nage: 50\nsex: male\n",
		"a: &a [*a]\n",
		"---\nage: 1\n---\nage: 2\n",
		`{"age": 60, "sex": "female", "age": 61}`,
		`{"age": 60.5, "sex": "female", "symptoms": {"irls_items": [1, 2, 3]}} {}`,
		`{"as_of": "2026-11-21", "age": 70, "sex": "male", "iron_infusions": [{"date": "2026-01-01", "product": "ferrous sulfate", "dose_mg": 0}]}`,
		`[{"age": 60}]`,
		`{"weight_kg": 1e999}`,
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(minimal), "json")
	f.Add([]byte(`{"age": 60}`), "yaml")
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		p, err := Decode(data, format)
		if err != nil {
			if p != nil {
				t.Fatalf("Decode returned a patient with error %v", err)
			}
			return
		}
		// Normalize must not panic, and Read must agree with Decode +
		// Normalize.
		opt := Options{Today: asOf}
		nerr := Normalize(p, b, opt)
		q, rerr := Read(data, format, b, opt)
		switch {
		case (nerr == nil) != (rerr == nil):
			t.Fatalf("Normalize error %v but Read error %v", nerr, rerr)
		case nerr != nil && nerr.Error() != rerr.Error():
			t.Fatalf("Normalize error:\n%v\nRead error:\n%v", nerr, rerr)
		case nerr == nil && !cmp.Equal(p, q, dateCmp):
			t.Fatalf("Read and Decode+Normalize differ:\n%s", cmp.Diff(p, q, dateCmp))
		}
	})
}

func FuzzParseSig(f *testing.F) {
	b := base(f)
	for _, s := range []string{
		"gabapentin 300 mg tid", "Lyrica 75mg twice daily", "pramipexole 0.25 mg at bedtime",
		"Neupro 2 mg/24h patch", "OxyContin 10 mg q12h", "ropinirole 1 mg nightly",
		"Horizant 600 mg once daily at 5pm", "carbidopa/levodopa 25/100 mg tid",
		"Butrans 5 mcg/h patch", "oxycodone/naloxone 10/5 mg bid", "ropinirole 1,5 mg x2",
		"ferric carboxymaltose 1,000 mg", "tramadol 50 mg every 0 hours", "gabapentin 0 mg",
		"methadone 99999999999999999999999999999999999999 mg", "buprenorphine 0.0000001 mcg/h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSig(s, b)
		if err != nil {
			return
		}
		if sig.Drug == nil {
			t.Fatal("no error and no drug")
		}
		for name, x := range map[string]*float64{"DoseMg": sig.DoseMg, "TimesPerDay": sig.TimesPerDay, "DoseMgPer24h": sig.DoseMgPer24h} {
			if x != nil && (math.IsNaN(*x) || math.IsInf(*x, 0) || *x <= 0) {
				t.Errorf("ParseSig(%q): %s = %v; want finite and > 0", s, name, *x)
			}
		}
	})
}
