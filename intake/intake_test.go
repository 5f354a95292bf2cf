package intake

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ekbom"
	"ekbom/kb"
)

// dateCmp compares dates by value (ekbom.Date has an unexported field).
var dateCmp = cmp.Comparer(func(a, b ekbom.Date) bool { return a.String() == b.String() })

var asOf = ekbom.DateOf(2026, 11, 21)

func base(tb testing.TB) *kb.Base {
	tb.Helper()
	b, err := kb.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func d(s string) ekbom.Date {
	x, err := ekbom.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return x
}

func dp(s string) *ekbom.Date { x := d(s); return &x }

// wantPatient is testdata/patient.{yaml,json} after Normalize.
func wantPatient() *ekbom.Patient {
	oct1 := d("2026-10-01")
	return &ekbom.Patient{
		ID:                 "vignette-001",
		AsOf:               asOf,
		Age:                ptr(62),
		Sex:                ekbom.Female,
		WeightKg:           ptr(68.5),
		Pregnancy:          ekbom.NotPregnant,
		PregnancyDefaulted: true,
		Conditions:         []ekbom.Condition{ekbom.SleepApneaTreated, ekbom.Depression},
		Labs: []ekbom.Lab{
			{Test: ekbom.Ferritin, Value: 45, Unit: "ng/mL", Date: oct1, Fasting: ptr(true)},
			// 18 µmol/L × 5.585 = 100.53 µg/dL
			{Test: ekbom.Iron, Value: 100.53, Unit: "µg/dL", Date: oct1, Fasting: ptr(true), IronSupplementWithin24h: ptr(false)},
			// 70 × 5.585 = 390.95 µg/dL
			{Test: ekbom.TIBC, Value: 390.95, Unit: "µg/dL", Date: oct1, Fasting: ptr(true)},
			{Test: ekbom.Hemoglobin, Value: 12.8, Unit: "g/dL", Date: oct1},
			// 80 / 88.42 = 0.90477 mg/dL
			{Test: ekbom.Creatinine, Value: 0.9048, Unit: "mg/dL", Date: oct1},
			{Test: ekbom.EGFR, Value: 72, Unit: "mL/min/1.73m2", Date: oct1},
			{Test: ekbom.CRP, Value: 4, Unit: "mg/L", Date: oct1},
			// 100.53 / 390.95 × 100 = 25.71 %
			{Test: ekbom.TSAT, Value: 25.7, Unit: "%", Date: oct1, Fasting: ptr(true), IronSupplementWithin24h: ptr(false), Derived: true},
		},
		Medications: []ekbom.Medication{
			{Sig: "pramipexole 0.25 mg at bedtime", Status: ekbom.Current, Start: dp("2023-02-01"),
				Resolved: ekbom.ResolvedMed{Ingredient: "pramipexole", DailyMg: ptr(0.25), Bedtime: true,
					Display: "pramipexole 0.25 mg at bedtime"}},
			{Name: "Lyrica", DoseMg: ptr(75.0), TimesPerDay: ptr(2.0), Status: ekbom.Past, Outcome: ekbom.Intolerant,
				Start: dp("2022-01-10"), Stop: dp("2022-06-30"),
				Resolved: ekbom.ResolvedMed{Ingredient: "pregabalin", DailyMg: ptr(150.0),
					Display: "pregabalin 75 mg twice daily (150 mg/day)"}},
			{Name: "sertraline", DoseMg: ptr(50.0), TimesPerDay: ptr(1.0), Status: ekbom.Current,
				Resolved: ekbom.ResolvedMed{Ingredient: "sertraline", DailyMg: ptr(50.0),
					Display: "sertraline 50 mg once daily"}},
		},
		IronInfusions: []ekbom.Infusion{{Date: d("2025-03-15"), Product: "ferric_carboxymaltose", DoseMg: 750}},
		Symptoms: ekbom.Symptoms{
			IRLSTotal: ptr(27),
			IRLSItems: []int{3, 3, 3, 2, 3, 3, 2, 3, 2, 3},
			Augmentation: &ekbom.AugmentationFeatures{
				EarlierOnset:           ptr(true),
				OnsetAdvanceHours:      ptr(4.0),
				SpreadToOtherBodyParts: ptr(true),
				WorseMostDays:          ptr(true),
				PriorPositiveResponse:  ptr(true),
			},
			DaytimeSymptoms: ptr(true),
		},
		Lifestyle: ekbom.Lifestyle{AlcoholDrinksPerWeek: ptr(3.0), CaffeineMgPerDay: ptr(200.0),
			Smoker: ptr(false), SleepHours: ptr(5.5)},
		Preferences: ekbom.Preferences{Declines: []string{"opioid", "iv_iron"}},
		Screening:   ekbom.Screening{OpioidRisk: "low", OSAScreen: "positive", PDMPChecked: ptr(true)},
	}
}

func TestReadYAMLAndJSON(t *testing.T) {
	b := base(t)
	got := map[string]*ekbom.Patient{}
	for _, tc := range []struct{ name, file, format string }{
		{"yaml", "testdata/patient.yaml", "yaml"},
		{"json", "testdata/patient.json", "json"},
		{"yaml detected", "testdata/patient.yaml", ""},
		{"json detected", "testdata/patient.json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Read(readFile(t, tc.file), tc.format, b, Options{})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(wantPatient(), p, dateCmp); diff != "" {
				t.Errorf("Read(%s) mismatch (-want +got):\n%s", tc.file, diff)
			}
			got[tc.name] = p
		})
	}
	if diff := cmp.Diff(got["yaml"], got["json"], dateCmp); diff != "" {
		t.Errorf("YAML and JSON records differ (-yaml +json):\n%s", diff)
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	b := base(t)
	p, err := Read(readFile(t, "testdata/patient.yaml"), "", b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Normalize(p, b, Options{}); err != nil {
		t.Fatalf("second Normalize: %v", err)
	}
	if diff := cmp.Diff(wantPatient(), p, dateCmp); diff != "" {
		t.Errorf("second Normalize changed the patient (-want +got):\n%s", diff)
	}
}

// minimal is a valid record that the cases below extend.
const minimal = "as_of: 2026-11-21\nage: 60\nsex: female\n"

func problems(t *testing.T, err error) []ekbom.Problem {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want problems")
	}
	var verr *ekbom.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v (%T) is not a *ekbom.ValidationError", err, err)
	}
	if !errors.Is(err, ekbom.ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false")
	}
	return verr.Problems
}

// TestProblems checks each rule: the record must give exactly one problem,
// at path, whose message contains msg.
func TestProblems(t *testing.T) {
	b := base(t)
	tests := []struct {
		name   string
		format string // "" = YAML
		record string // full record; minimal + extra when extra is set
		extra  string
		path   string
		msg    string
	}{
		// Shape (Decode).
		{name: "unknown top-level field", extra: "weight: 70", path: "weight", msg: `unknown field (did you mean "weight_kg"?)`},
		{name: "unknown lab field", extra: "labs: [{test: ferritin, value: 40, unit: ng/mL, date: 2026-10-01, fastng: true}]",
			path: "labs[0].fastng", msg: `unknown field (did you mean "fasting"?)`},
		{name: "lab value missing", extra: "labs: [{test: ferritin, unit: ng/mL, date: 2026-10-01}]", path: "labs[0].value", msg: "required"},
		{name: "lab value null", format: "json", record: `{"as_of": "2026-11-21", "age": 60, "sex": "female", "labs": [{"test": "tsat", "value": null, "unit": "%", "date": "2026-10-01"}]}`,
			path: "labs[0].value", msg: "required"},
		{name: "unknown nested field", extra: "symptoms: {augmentation: {earlier: true}}",
			path: "symptoms.augmentation.earlier", msg: "unknown field"},
		{name: "non-string key", extra: "symptoms: {1: true}", path: "symptoms.1", msg: "unknown field"},
		{name: "derived is not input", extra: "labs: [{test: tsat, value: 20, unit: '%', date: 2026-10-01, derived: true}]",
			path: "labs[0].derived", msg: "unknown field"},
		{name: "age not a number", record: "as_of: 2026-11-21\nage: sixty\nsex: female", path: "age", msg: `want an integer, got string "sixty"`},
		{name: "age fractional", record: "as_of: 2026-11-21\nage: 60.5\nsex: female", path: "age", msg: "want an integer, got 60.5"},
		{name: "age fractional JSON", format: "json", record: `{"as_of": "2026-11-21", "age": 60.5, "sex": "female"}`, path: "age", msg: "want an integer, got 60.5"},
		{name: "invalid lab date", extra: "labs: [{test: ferritin, value: 40, unit: ng/mL, date: 2026-10-01}, {test: ferritin, value: 40, unit: ng/mL, date: 2026-13-01}]",
			path: "labs[1].date", msg: `invalid date "2026-13-01": want YYYY-MM-DD`},
		{name: "invalid date JSON", format: "json", record: `{"as_of": "21/11/2026", "age": 60, "sex": "female"}`,
			path: "as_of", msg: `invalid date "21/11/2026": want YYYY-MM-DD`},
		{name: "timestamp is not a date", extra: "medications: [{name: gabapentin, start: 2026-01-01T10:00:00Z}]",
			path: "medications[0].start", msg: "want YYYY-MM-DD"},
		{name: "date of wrong type", extra: "iron_infusions: [{date: 20250315, product: Injectafer, dose_mg: 750}]",
			path: "iron_infusions[0].date", msg: "want a date YYYY-MM-DD, got number 20250315"},
		{name: "list expected", extra: "labs: none", path: "labs", msg: `want a list, got string "none"`},
		{name: "object expected", extra: "symptoms: [1, 2]", path: "symptoms", msg: "want an object, got a list"},
		{name: "boolean expected", extra: "lifestyle: {smoker: yes}", path: "lifestyle.smoker", msg: `want true or false, got string "yes"`},
		{name: "number expected", extra: "medications: [{name: gabapentin, dose_mg: 300mg}]", path: "medications[0].dose_mg", msg: `want a number, got string "300mg"`},
		{name: "nested number expected", extra: "symptoms: {augmentation: {onset_advance_hours: four}}",
			path: "symptoms.augmentation.onset_advance_hours", msg: "want a number"},
		{name: "item not an integer", extra: "symptoms: {irls_items: [3, 3, 3, 2.5, 3, 3, 2, 3, 2, 3]}",
			path: "symptoms.irls_items[3]", msg: "want an integer, got 2.5"},
		{name: "string expected", extra: "id: 12345", path: "id", msg: "want a string, got number 12345 (put it in quotes)"},
		{name: "hides the content problem it causes", extra: "medications: [{name: 7804}]", path: "medications[0].name",
			msg: "want a string, got number 7804 (put it in quotes)"},
		{name: "infinite number", extra: "weight_kg: .inf", path: "weight_kg", msg: "want a finite number"},
		{name: "huge JSON number", format: "json", record: `{"as_of": "2026-11-21", "age": 60, "sex": "female", "weight_kg": 1e999}`,
			path: "weight_kg", msg: "out of range"},
		{name: "duplicate JSON key", format: "json", record: `{"as_of": "2026-11-21", "age": 60, "age": 61, "sex": "female"}`,
			path: "age", msg: "duplicate field"},
		{name: "duplicate YAML key", record: minimal + "age: 61", msg: `"age" already defined`},
		{name: "two YAML documents", record: minimal + "---\n" + minimal, msg: "single YAML document"},
		{name: "trailing JSON", format: "json", record: `{"as_of": "2026-11-21", "age": 60, "sex": "female"} {}`,
			msg: "unexpected data after the top-level value"},
		{name: "JSON syntax error", format: "json", record: "{\n  \"age\": 60,\n  \"sex\" \"female\"\n}",
			msg: "invalid JSON (line 3, column 9)"},
		{name: "truncated JSON", format: "json", record: `{"age": 60`, msg: "unexpected end of input"},
		{name: "YAML syntax error", record: "age: 60\n  sex: female", msg: "invalid YAML"},
		{name: "top level list", record: "- age: 60", msg: "want an object (a mapping of field names) at the top level, got a list"},
		{name: "top level JSON list", format: "json", record: `[{"age": 60}]`, msg: "at the top level, got a list"},
		{name: "empty", record: "  \n", msg: "empty document"},
		{name: "comments only", record: "# nothing\n", msg: "empty document"},
		{name: "unknown format", format: "xml", record: minimal, msg: `unknown format "xml"`},

		// Person.
		{name: "age missing", record: "as_of: 2026-11-21\nsex: female", path: "age", msg: "required"},
		{name: "age negative", record: "as_of: 2026-11-21\nage: -1\nsex: female", path: "age", msg: "-1 is negative"},
		{name: "age above 120", record: "as_of: 2026-11-21\nage: 130\nsex: female", path: "age", msg: "130 is above 120"},
		{name: "under 18", record: "as_of: 2026-11-21\nage: 16\nsex: female", path: "age",
			msg: "16 — ekbom covers adults (18 and over); pediatric RLS is out of scope"},
		{name: "sex missing", record: "as_of: 2026-11-21\nage: 60", path: "sex", msg: "required (female or male)"},
		{name: "sex unknown", record: "as_of: 2026-11-21\nage: 60\nsex: f", path: "sex", msg: `unknown value "f"; want female or male`},
		{name: "pregnancy unknown", extra: "pregnancy: yes", path: "pregnancy", msg: `unknown value "yes"`},
		{name: "pregnant male", record: "as_of: 2026-11-21\nage: 30\nsex: male\npregnancy: pregnant", path: "pregnancy", msg: "does not fit sex male"},
		{name: "lactating male", record: "as_of: 2026-11-21\nage: 30\nsex: male\npregnancy: lactating", path: "pregnancy", msg: "does not fit sex male"},
		{name: "weight too low", extra: "weight_kg: 12", path: "weight_kg", msg: "12 kg is outside 20–400 kg"},
		{name: "weight too high", extra: "weight_kg: 450", path: "weight_kg", msg: "outside 20–400 kg"},
		{name: "as_of missing", record: "age: 60\nsex: female", path: "as_of", msg: "required (give as_of or run with a date)"},

		// Conditions.
		{name: "unknown condition", extra: "conditions: [ckd, osa]", path: "conditions[1]",
			msg: `unknown condition "osa"; known: sleep_apnea, sleep_apnea_treated, ckd`},
		{name: "misspelt condition", extra: "conditions: [hemochromatosys]", path: "conditions[0]",
			msg: `(did you mean "hemochromatosis"?)`},

		// Labs.
		{name: "lab test missing", extra: "labs: [{value: 40, unit: ng/mL, date: 2026-10-01}]", path: "labs[0].test", msg: "required"},
		{name: "lab test unknown", extra: "labs: [{test: ferriten, value: 40, unit: ng/mL, date: 2026-10-01}]", path: "labs[0].test",
			msg: `unknown test "ferriten" (did you mean "ferritin"?)`},
		{name: "lab date missing", extra: "labs: [{test: ferritin, value: 40, unit: ng/mL}]", path: "labs[0].date", msg: "required"},
		{name: "lab date after as_of", extra: "labs: [{test: ferritin, value: 40, unit: ng/mL, date: 2027-01-01}]", path: "labs[0].date",
			msg: "2027-01-01 is after as_of 2026-11-21"},
		{name: "lab value negative", extra: "labs: [{test: ferritin, value: -4, unit: ng/mL, date: 2026-10-01}]", path: "labs[0].value", msg: "-4 is negative"},
		{name: "lab unit missing", extra: "labs: [{test: ferritin, value: 40, date: 2026-10-01}]", path: "labs[0].unit",
			msg: "required (accepted: ng/mL, µg/L)"},
		{name: "lab unit unknown", extra: "labs: [{test: ferritin, value: 40, unit: kg, date: 2026-10-01}]",
			path: "labs[0].unit", msg: `unknown unit "kg" for ferritin (accepted: ng/mL, µg/L)`},
		{name: "tsat unit", extra: "labs: [{test: tsat, value: 20, unit: mg/dL, date: 2026-10-01}]", path: "labs[0].unit",
			msg: `unknown unit "mg/dL" for tsat (accepted: %)`},
		{name: "tsat above 100", extra: "labs: [{test: tsat, value: 120, unit: '%', date: 2026-10-01}]", path: "labs[0].value",
			msg: "TSAT 120 % is above 100 %"},
		{name: "ferritin impossible", extra: "labs: [{test: ferritin, value: 200000, unit: ng/mL, date: 2026-10-01}]", path: "labs[0].value",
			msg: "ferritin 200000 ng/mL is above 100000 ng/mL"},
		{name: "iron impossible", extra: "labs: [{test: iron, value: 200, unit: µmol/L, date: 2026-10-01}]", path: "labs[0].value",
			msg: "iron 1117 µg/dL is above 1000 µg/dL"},
		{name: "tibc zero", extra: "labs: [{test: tibc, value: 0, unit: µg/dL, date: 2026-10-01}]", path: "labs[0].value",
			msg: "TIBC 0 µg/dL is not possible"},
		{name: "tibc impossible", extra: "labs: [{test: tibc, value: 1200, unit: µg/dL, date: 2026-10-01}]", path: "labs[0].value",
			msg: "TIBC 1200 µg/dL is above 1000 µg/dL"},
		{name: "hemoglobin impossible", extra: "labs: [{test: hemoglobin, value: 130, unit: g/dL, date: 2026-10-01}]", path: "labs[0].value",
			msg: "hemoglobin 130 g/dL is above 25 g/dL"},
		{name: "creatinine zero", extra: "labs: [{test: creatinine, value: 0, unit: mg/dL, date: 2026-10-01}]", path: "labs[0].value",
			msg: "creatinine 0 mg/dL is not possible"},
		{name: "creatinine impossible", extra: "labs: [{test: creatinine, value: 85, unit: mg/dL, date: 2026-10-01}]", path: "labs[0].value",
			msg: "creatinine 85 mg/dL is above 30 mg/dL"},
		{name: "egfr impossible", extra: "labs: [{test: egfr, value: 250, unit: mL/min/1.73m2, date: 2026-10-01}]", path: "labs[0].value",
			msg: "eGFR 250 mL/min/1.73m2 is above 200"},
		{name: "crp impossible", extra: "labs: [{test: crp, value: 150, unit: mg/dL, date: 2026-10-01}]", path: "labs[0].value",
			msg: "CRP 1500 mg/L is above 1000 mg/L"},
		{name: "phosphate impossible", extra: "labs: [{test: phosphate, value: 25, unit: mg/dL, date: 2026-10-01}]", path: "labs[0].value",
			msg: "phosphate 25 mg/dL is above 20 mg/dL"},
		{name: "derived TSAT above 100", extra: "labs: [{test: ferritin, value: 40, unit: ng/mL, date: 2026-10-01}, {test: tibc, value: 200, unit: µg/dL, date: 2026-10-01}, {test: crp, value: 1, unit: mg/L, date: 2026-10-01}, {test: iron, value: 250, unit: µg/dL, date: 2026-10-01}]",
			path: "labs[3].value", msg: "iron 250 µg/dL above TIBC 200 µg/dL gives TSAT 125 %"},

		// Medications.
		{name: "medication without name or sig", extra: "medications: [{dose_mg: 300}]", path: "medications[0]", msg: "give name or sig"},
		{name: "medication status", extra: "medications: [{name: gabapentin, status: stopped}]", path: "medications[0].status",
			msg: `unknown value "stopped"; want current or past`},
		{name: "medication outcome", extra: "medications: [{name: gabapentin, status: past, outcome: bad}]", path: "medications[0].outcome",
			msg: `unknown value "bad"`},
		{name: "stop before start", extra: "medications: [{name: gabapentin, start: 2026-03-01, stop: 2026-01-01}]", path: "medications[0].stop",
			msg: "2026-01-01 is before start 2026-03-01"},
		{name: "start after as_of", extra: "medications: [{name: gabapentin, start: 2027-01-01}]", path: "medications[0].start",
			msg: "2027-01-01 is after as_of 2026-11-21"},
		{name: "stop after as_of", extra: "medications: [{name: gabapentin, start: 2026-01-01, stop: 2026-12-01}]", path: "medications[0].stop",
			msg: "2026-12-01 is after as_of 2026-11-21"},
		{name: "dose zero", extra: "medications: [{name: gabapentin, dose_mg: 0}]", path: "medications[0].dose_mg", msg: "want more than 0 and at most 10000 mg"},
		{name: "dose too high", extra: "medications: [{name: gabapentin, dose_mg: 30000}]", path: "medications[0].dose_mg", msg: "30000 mg; want more than 0 and at most 10000 mg"},
		{name: "times per day too high", extra: "medications: [{name: gabapentin, dose_mg: 300, times_per_day: 30}]", path: "medications[0].times_per_day",
			msg: "at most 24"},
		{name: "times per day zero", extra: "medications: [{name: gabapentin, dose_mg: 300, times_per_day: 0}]", path: "medications[0].times_per_day",
			msg: "want more than 0"},
		{name: "patch rate too high", extra: "medications: [{name: rotigotine, dose_mg_per_24h: 200}]", path: "medications[0].dose_mg_per_24h",
			msg: "at most 100 mg/24 h"},
		{name: "sig dose too high", extra: "medications: [{sig: gabapentin 30 g tid}]", path: "medications[0].sig",
			msg: "dose read from the sig: 30000 mg"},
		{name: "name and sig disagree", extra: "medications: [{name: Lyrica, sig: gabapentin 300 mg tid}]", path: "medications[0].sig",
			msg: `names gabapentin ("gabapentin") but name "Lyrica" is pregabalin`},
		{name: "dose disagrees with sig", extra: "medications: [{name: gabapentin, dose_mg: 600, sig: 300 mg tid}]", path: "medications[0].dose_mg",
			msg: "600 mg disagrees with the sig (300 mg)"},
		{name: "frequency disagrees with sig", extra: "medications: [{name: gabapentin, times_per_day: 2, sig: 300 mg tid}]", path: "medications[0].times_per_day",
			msg: "2 a day disagrees with the sig (3 a day)"},
		{name: "sig too long", extra: "medications: [{sig: gabapentin " + strings.Repeat("x", 500) + "}]", path: "medications[0].sig",
			msg: "511 characters long; at most 500"},

		// Iron infusions.
		{name: "infusion date missing", extra: "iron_infusions: [{product: Injectafer, dose_mg: 750}]", path: "iron_infusions[0].date", msg: "required"},
		{name: "infusion after as_of", extra: "iron_infusions: [{date: 2027-01-01, product: Injectafer, dose_mg: 750}]", path: "iron_infusions[0].date",
			msg: "2027-01-01 is after as_of 2026-11-21"},
		{name: "infusion oral iron", extra: "iron_infusions: [{date: 2025-01-01, product: ferrous sulfate, dose_mg: 325}]", path: "iron_infusions[0].product",
			msg: `"ferrous sulfate" is not an IV iron product`},
		{name: "infusion unknown product", extra: "iron_infusions: [{date: 2025-01-01, product: magic iron, dose_mg: 500}]", path: "iron_infusions[0].product",
			msg: `unknown product "magic iron"`},
		{name: "infusion product missing", extra: "iron_infusions: [{date: 2025-01-01, dose_mg: 500}]", path: "iron_infusions[0].product", msg: "required"},
		{name: "infusion dose missing", extra: "iron_infusions: [{date: 2025-01-01, product: Venofer}]", path: "iron_infusions[0].dose_mg", msg: "required"},
		{name: "infusion dose too high", extra: "iron_infusions: [{date: 2025-01-01, product: Venofer, dose_mg: 2500}]", path: "iron_infusions[0].dose_mg",
			msg: "2500 mg is outside 0–2000 mg"},

		// Symptoms.
		{name: "irls total too high", extra: "symptoms: {irls_total: 41}", path: "symptoms.irls_total", msg: "41 is outside 0–40"},
		{name: "irls total negative", extra: "symptoms: {irls_total: -1}", path: "symptoms.irls_total", msg: "-1 is outside 0–40"},
		{name: "irls items count", extra: "symptoms: {irls_items: [3, 3, 3]}", path: "symptoms.irls_items", msg: "want 10 items, got 3"},
		{name: "irls item range", extra: "symptoms: {irls_items: [3, 3, 3, 5, 3, 3, 2, 3, 2, 3]}", path: "symptoms.irls_items[3]", msg: "5 is outside 0–4"},
		{name: "irls total disagrees", extra: "symptoms: {irls_total: 20, irls_items: [3, 3, 3, 2, 3, 3, 2, 3, 2, 3]}", path: "symptoms.irls_total",
			msg: "20 disagrees with the sum of irls_items (27)"},
		{name: "onset advance", extra: "symptoms: {augmentation: {onset_advance_hours: 30}}", path: "symptoms.augmentation.onset_advance_hours",
			msg: "30 h is outside 0–24 h"},

		// Lifestyle, preferences, screening.
		{name: "alcohol", extra: "lifestyle: {alcohol_drinks_per_week: 300}", path: "lifestyle.alcohol_drinks_per_week", msg: "300 is outside 0–200"},
		{name: "caffeine", extra: "lifestyle: {caffeine_mg_per_day: 5000}", path: "lifestyle.caffeine_mg_per_day", msg: "outside 0–3000 mg a day"},
		{name: "sleep hours", extra: "lifestyle: {sleep_hours: -1}", path: "lifestyle.sleep_hours", msg: "-1 is outside 0–24 hours"},
		{name: "declines unknown", extra: "preferences: {declines: [opioid, surgery]}", path: "preferences.declines[1]",
			msg: `unknown target "surgery"`},
		{name: "opioid risk", extra: "screening: {opioid_risk: extreme}", path: "screening.opioid_risk", msg: `unknown value "extreme"; want low, moderate or high`},
		{name: "osa screen", extra: "screening: {osa_screen: maybe}", path: "screening.osa_screen", msg: `unknown value "maybe"; want negative or positive`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.record
			if rec == "" {
				rec = minimal + tc.extra
			}
			format := tc.format
			if format == "" {
				format = "yaml"
			}
			_, err := Read([]byte(rec), format, b, Options{})
			ps := problems(t, err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), err)
			}
			if ps[0].Path != tc.path || !strings.Contains(ps[0].Message, tc.msg) {
				t.Errorf("got problem %q, want path %q and a message containing %q", ps[0], tc.path, tc.msg)
			}
		})
	}
}

func TestManyProblemsAtOnce(t *testing.T) {
	rec := `{
  "as_of": "2026-11-21",
  "age": "sixty",
  "sex": "female",
  "labs": [
    {"test": "ferritin", "valu": 40, "unit": "ng/mL", "date": "2026-10-01"},
    {"test": "ferritin", "value": 40, "unit": "kg", "date": "2026-10-01"},
    {"test": "tsat", "value": 130, "unit": "%", "date": "2027-01-01"}
  ],
  "medications": [{"name": "gabapentin", "dose_mg": 0}],
  "symptoms": {"irls_items": [3, 3, 3, 5, 3, 3, 2, 3, 2, 3]}
}`
	want := []ekbom.Problem{
		// Shape problems come first, then content problems in field order.
		{Path: "age", Message: `want an integer, got string "sixty"`},
		{Path: "labs[0].value", Message: "required"},
		{Path: "labs[0].valu", Message: `unknown field (did you mean "value"?)`},
		{Path: "labs[1].unit", Message: `unknown unit "kg" for ferritin (accepted: ng/mL, µg/L)`},
		{Path: "labs[2].date", Message: "2027-01-01 is after as_of 2026-11-21"},
		{Path: "labs[2].value", Message: "TSAT 130 % is above 100 %, which is not possible"},
		{Path: "medications[0].dose_mg", Message: "0 mg; want more than 0 and at most 10000 mg"},
		{Path: "symptoms.irls_items[3]", Message: "5 is outside 0–4"},
	}
	_, err := Read([]byte(rec), "", base(t), Options{})
	if diff := cmp.Diff(want, problems(t, err)); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
}

func TestNormalizeManyProblems(t *testing.T) {
	p := &ekbom.Patient{
		Age:        ptr(40),
		Sex:        "x",
		Conditions: []ekbom.Condition{"osa"},
		Labs:       []ekbom.Lab{{Test: ekbom.Ferritin, Value: 40, Date: d("2026-10-01")}},
		Symptoms:   ekbom.Symptoms{IRLSTotal: ptr(50)},
	}
	var got []string
	for _, pr := range problems(t, Normalize(p, base(t), Options{})) {
		got = append(got, pr.Path)
	}
	want := []string{"as_of", "sex", "conditions[0]", "labs[0].unit", "symptoms.irls_total"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths mismatch (-want +got):\n%s", diff)
	}
}

func TestOutOfScope(t *testing.T) {
	tests := []struct {
		name       string
		record     string
		outOfScope bool
	}{
		{"16", "as_of: 2026-11-21\nage: 16\nsex: male", true},
		{"17 with other problems", "as_of: 2026-11-21\nage: 17\nsex: male\nweight_kg: 5", true},
		{"18", "as_of: 2026-11-21\nage: 18\nsex: male\nweight_kg: 5", false},
		{"negative", "as_of: 2026-11-21\nage: -3\nsex: male", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read([]byte(tc.record), "", base(t), Options{})
			if !errors.Is(err, ekbom.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			if got := errors.Is(err, ekbom.ErrOutOfScope); got != tc.outOfScope {
				t.Errorf("errors.Is(err, ErrOutOfScope) = %v, want %v", got, tc.outOfScope)
			}
		})
	}
}

func TestAsOf(t *testing.T) {
	b := base(t)
	tests := []struct {
		name   string
		record string
		today  ekbom.Date
		want   ekbom.Date
	}{
		{"from record", minimal, ekbom.DateOf(2030, 1, 1), asOf},
		{"from options", "age: 60\nsex: female", ekbom.DateOf(2030, 1, 1), ekbom.DateOf(2030, 1, 1)},
		{"quoted date", "as_of: '2026-11-21'\nage: 60\nsex: female", ekbom.Date{}, asOf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Read([]byte(tc.record), "", b, Options{Today: tc.today})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, p.AsOf, dateCmp); diff != "" {
				t.Errorf("as_of mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeAcceptsIntegralFloat(t *testing.T) {
	for _, rec := range []string{
		`{"as_of": "2026-11-21", "age": 60.0, "sex": "female"}`,
		`{"as_of": "2026-11-21", "age": 6e1, "sex": "female"}`,
		"as_of: 2026-11-21\nage: 60.0\nsex: female",
	} {
		p, err := Decode([]byte(rec), "")
		if err != nil {
			t.Fatalf("Decode(%s): %v", rec, err)
		}
		if p.Age == nil || *p.Age != 60 {
			t.Errorf("Decode(%s): age = %v, want 60", rec, p.Age)
		}
	}
}

func TestDecodeNullIsAbsent(t *testing.T) {
	p, err := Decode([]byte(`{"age": 60, "sex": "female", "weight_kg": null, "labs": null, "symptoms": {"augmentation": null}}`), "json")
	if err != nil {
		t.Fatal(err)
	}
	if p.WeightKg != nil || p.Labs != nil || p.Symptoms.Augmentation != nil {
		t.Errorf("null fields decoded to %v, %v, %v; want nil", p.WeightKg, p.Labs, p.Symptoms.Augmentation)
	}
}

func TestDecodeBOM(t *testing.T) {
	if _, err := Decode([]byte("\xef\xbb\xbf{\"age\": 60, \"sex\": \"male\"}"), ""); err != nil {
		t.Errorf("Decode with a byte-order mark: %v", err)
	}
}

func normalizeLab(t *testing.T, labs ...ekbom.Lab) []ekbom.Lab {
	t.Helper()
	p := &ekbom.Patient{AsOf: asOf, Age: ptr(50), Sex: ekbom.Male, Labs: labs}
	if err := Normalize(p, base(t), Options{}); err != nil {
		t.Fatal(err)
	}
	return p.Labs
}

func TestUnitConversions(t *testing.T) {
	tests := []struct {
		test     ekbom.LabTest
		value    float64
		unit     string
		want     float64
		wantUnit string
	}{
		{ekbom.Ferritin, 45, "ng/mL", 45, "ng/mL"},
		{ekbom.Ferritin, 45, "µg/L", 45, "ng/mL"},
		{ekbom.Ferritin, 45, "μg/L", 45, "ng/mL"}, // Greek mu
		{ekbom.Ferritin, 45, "ug/l", 45, "ng/mL"},
		{ekbom.Ferritin, 45, "mcg/L", 45, "ng/mL"},
		{ekbom.Ferritin, 45, " NG/ML ", 45, "ng/mL"},
		{ekbom.TSAT, 18, "%", 18, "%"},
		// 18 µmol/L × 5.585 = 100.53 µg/dL
		{ekbom.Iron, 18, "µmol/L", 100.53, "µg/dL"},
		{ekbom.Iron, 18, "umol/L", 100.53, "µg/dL"},
		{ekbom.Iron, 80, "mcg/dL", 80, "µg/dL"},
		// 60 µmol/L × 5.585 = 335.1 µg/dL
		{ekbom.TIBC, 60, "µmol/L", 335.1, "µg/dL"},
		{ekbom.TIBC, 350, "ug/dL", 350, "µg/dL"},
		{ekbom.Hemoglobin, 135, "g/L", 13.5, "g/dL"},
		{ekbom.Hemoglobin, 13.5, "g/dL", 13.5, "g/dL"},
		// 88.42 µmol/L = 1 mg/dL
		{ekbom.Creatinine, 88.42, "µmol/L", 1, "mg/dL"},
		{ekbom.Creatinine, 1.1, "mg/dL", 1.1, "mg/dL"},
		{ekbom.EGFR, 72, "mL/min/1.73m2", 72, "mL/min/1.73m2"},
		{ekbom.EGFR, 72, "mL/min/1.73 m2", 72, "mL/min/1.73m2"},
		{ekbom.EGFR, 72, "mL/min/1.73m²", 72, "mL/min/1.73m2"},
		{ekbom.EGFR, 72, "mL/min/{1.73_m2}", 72, "mL/min/1.73m2"},
		{ekbom.CRP, 1.2, "mg/dL", 12, "mg/L"},
		{ekbom.CRP, 3, "mg/L", 3, "mg/L"},
		// 1 mmol/L × 3.097 = 3.097 mg/dL
		{ekbom.Phosphate, 1, "mmol/L", 3.097, "mg/dL"},
		{ekbom.Phosphate, 3.5, "mg/dL", 3.5, "mg/dL"},
	}
	for _, tc := range tests {
		t.Run(string(tc.test)+" "+tc.unit, func(t *testing.T) {
			labs := normalizeLab(t, ekbom.Lab{Test: tc.test, Value: tc.value, Unit: tc.unit, Date: d("2026-10-01")})
			got := labs[0]
			if math.Abs(got.Value-tc.want) > 1e-9 || got.Unit != tc.wantUnit {
				t.Errorf("%v %s %s = %v %s, want %v %s", tc.test, fmtNum(tc.value), tc.unit, got.Value, got.Unit, tc.want, tc.wantUnit)
			}
		})
	}
}

func TestDerivedTSAT(t *testing.T) {
	oct1, oct2 := d("2026-10-01"), d("2026-10-02")
	tests := []struct {
		name string
		labs []ekbom.Lab
		want []ekbom.Lab // the labs appended
	}{
		{
			name: "iron 60 TIBC 400",
			labs: []ekbom.Lab{
				{Test: ekbom.Iron, Value: 60, Unit: "µg/dL", Date: oct1, Fasting: ptr(true), IronSupplementWithin24h: ptr(false)},
				{Test: ekbom.TIBC, Value: 400, Unit: "µg/dL", Date: oct1, Fasting: ptr(false)},
			},
			want: []ekbom.Lab{{Test: ekbom.TSAT, Value: 15, Unit: "%", Date: oct1, Fasting: ptr(true), IronSupplementWithin24h: ptr(false), Derived: true}},
		},
		{
			name: "rounded to 0.1",
			labs: []ekbom.Lab{
				{Test: ekbom.TIBC, Value: 300, Unit: "µg/dL", Date: oct1},
				{Test: ekbom.Iron, Value: 50, Unit: "µg/dL", Date: oct1},
			},
			// 50 / 300 × 100 = 16.67
			want: []ekbom.Lab{{Test: ekbom.TSAT, Value: 16.7, Unit: "%", Date: oct1, Derived: true}},
		},
		{
			name: "molar units",
			labs: []ekbom.Lab{
				{Test: ekbom.Iron, Value: 10, Unit: "µmol/L", Date: oct1},
				{Test: ekbom.TIBC, Value: 80, Unit: "µmol/L", Date: oct1},
			},
			want: []ekbom.Lab{{Test: ekbom.TSAT, Value: 12.5, Unit: "%", Date: oct1, Derived: true}},
		},
		{
			name: "measured TSAT wins",
			labs: []ekbom.Lab{
				{Test: ekbom.Iron, Value: 60, Unit: "µg/dL", Date: oct1},
				{Test: ekbom.TIBC, Value: 400, Unit: "µg/dL", Date: oct1},
				{Test: ekbom.TSAT, Value: 14, Unit: "%", Date: oct1},
			},
		},
		{
			name: "different dates",
			labs: []ekbom.Lab{
				{Test: ekbom.Iron, Value: 60, Unit: "µg/dL", Date: oct1},
				{Test: ekbom.TIBC, Value: 400, Unit: "µg/dL", Date: oct2},
			},
		},
		{
			name: "two dates",
			labs: []ekbom.Lab{
				{Test: ekbom.Iron, Value: 60, Unit: "µg/dL", Date: oct2},
				{Test: ekbom.TIBC, Value: 400, Unit: "µg/dL", Date: oct2},
				{Test: ekbom.Iron, Value: 100, Unit: "µg/dL", Date: oct1},
				{Test: ekbom.TIBC, Value: 250, Unit: "µg/dL", Date: oct1},
			},
			want: []ekbom.Lab{
				{Test: ekbom.TSAT, Value: 15, Unit: "%", Date: oct2, Derived: true},
				{Test: ekbom.TSAT, Value: 40, Unit: "%", Date: oct1, Derived: true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := normalizeLab(t, tc.labs...)[len(tc.labs):]
			if diff := cmp.Diff(tc.want, got, dateCmp, cmp.Comparer(func(a, b []ekbom.Lab) bool {
				return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b, dateCmp)
			})); diff != "" {
				t.Errorf("derived labs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizeLeavesPatientUnchangedOnError(t *testing.T) {
	b := base(t)
	// The realistic record (which Normalize would change in many places)
	// with one problem added.
	rec := strings.Replace(string(readFile(t, "testdata/patient.yaml")), "weight_kg: 68.5", "weight_kg: 8.5", 1)
	p, err := Decode([]byte(rec), "")
	if err != nil {
		t.Fatal(err)
	}
	before, err := Decode([]byte(rec), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := Normalize(p, b, Options{}); err == nil {
		t.Fatal("Normalize succeeded; want a weight_kg problem")
	}
	if diff := cmp.Diff(before, p, dateCmp); diff != "" {
		t.Errorf("Normalize changed the patient on error (-before +after):\n%s", diff)
	}
}

func TestMedications(t *testing.T) {
	tests := []struct {
		name string
		med  ekbom.Medication
		want ekbom.ResolvedMed
	}{
		{"ingredient", ekbom.Medication{Name: "gabapentin", DoseMg: ptr(300.0), TimesPerDay: ptr(3.0)},
			ekbom.ResolvedMed{Ingredient: "gabapentin", DailyMg: ptr(900.0), Display: "gabapentin 300 mg three times daily (900 mg/day)"}},
		{"brand", ekbom.Medication{Name: "Horizant", DoseMg: ptr(600.0), TimesPerDay: ptr(1.0)},
			ekbom.ResolvedMed{Ingredient: "gabapentin_enacarbil", DailyMg: ptr(600.0), Display: "gabapentin enacarbil 600 mg once daily"}},
		{"verified RxCUI", ekbom.Medication{Name: "7804", DoseMg: ptr(10.0), TimesPerDay: ptr(2.0)},
			ekbom.ResolvedMed{Ingredient: "oxycodone", DailyMg: ptr(20.0), Display: "oxycodone 10 mg twice daily (20 mg/day)"}},
		{"sig only", ekbom.Medication{Sig: "gabapentin 300 mg three times daily"},
			ekbom.ResolvedMed{Ingredient: "gabapentin", DailyMg: ptr(900.0), Display: "gabapentin 300 mg three times daily (900 mg/day)"}},
		{"name with sig without drug", ekbom.Medication{Name: "Neurontin", Sig: "300 mg at bedtime"},
			ekbom.ResolvedMed{Ingredient: "gabapentin", DailyMg: ptr(300.0), Bedtime: true, Display: "gabapentin 300 mg at bedtime"}},
		{"name and sig agree", ekbom.Medication{Name: "Mirapex", Sig: "pramipexole 0.125 mg qhs"},
			ekbom.ResolvedMed{Ingredient: "pramipexole", DailyMg: ptr(0.125), Bedtime: true, Display: "pramipexole 0.125 mg at bedtime"}},
		{"name found in text", ekbom.Medication{Name: "Gabapentin 300mg capsules", DoseMg: ptr(300.0), TimesPerDay: ptr(2.0)},
			ekbom.ResolvedMed{Ingredient: "gabapentin", DailyMg: ptr(600.0), Display: "gabapentin 300 mg twice daily (600 mg/day)"}},
		{"dose without frequency", ekbom.Medication{Name: "ropinirole", DoseMg: ptr(1.0)},
			ekbom.ResolvedMed{Ingredient: "ropinirole", Display: "ropinirole 1 mg, frequency not stated"}},
		{"patch field", ekbom.Medication{Name: "Neupro", DoseMgPer24h: ptr(2.0)},
			ekbom.ResolvedMed{Ingredient: "rotigotine", DailyMg: ptr(2.0), Display: "rotigotine 2 mg/24 h"}},
		{"patch sig mcg/h", ekbom.Medication{Sig: "Butrans 5 mcg/h patch weekly"},
			ekbom.ResolvedMed{Ingredient: "buprenorphine", DailyMg: ptr(0.12), Display: "buprenorphine 0.12 mg/24 h once weekly"}},
		{"every 3 days", ekbom.Medication{Name: "methadone", DoseMg: ptr(6.0), TimesPerDay: ptr(1.0 / 3)},
			ekbom.ResolvedMed{Ingredient: "methadone", DailyMg: ptr(2.0), Display: "methadone 6 mg every 3 days (2 mg/day)"}},
		{"twice weekly", ekbom.Medication{Sig: "clonazepam 0.5 mg twice weekly"},
			ekbom.ResolvedMed{Ingredient: "clonazepam", DailyMg: ptr(0.142857), Display: "clonazepam 0.5 mg 2 times weekly (0.1429 mg/day)"}},
		{"every other day", ekbom.Medication{Sig: "Horizant 600 mg every other day"},
			ekbom.ResolvedMed{Ingredient: "gabapentin_enacarbil", DailyMg: ptr(300.0), Display: "gabapentin enacarbil 600 mg every other day (300 mg/day)"}},
		{"prn", ekbom.Medication{Sig: "oxycodone 5 mg q6h prn"},
			ekbom.ResolvedMed{Ingredient: "oxycodone", DailyMg: ptr(20.0), Display: "oxycodone 5 mg four times daily as needed (20 mg/day)"}},
		{"unknown drug", ekbom.Medication{Name: "Restovan", DoseMg: ptr(10.0), TimesPerDay: ptr(1.0)},
			ekbom.ResolvedMed{DailyMg: ptr(10.0), Display: "Restovan"}},
		{"unknown drug sig", ekbom.Medication{Sig: "magnesium 400 mg nightly"},
			ekbom.ResolvedMed{DailyMg: ptr(400.0), Bedtime: true, Display: "magnesium 400 mg nightly"}},
		{"unknown name and sig", ekbom.Medication{Name: "Restovan", Sig: "1 tab daily"},
			ekbom.ResolvedMed{Display: "Restovan (1 tab daily)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &ekbom.Patient{AsOf: asOf, Age: ptr(50), Sex: ekbom.Male, Medications: []ekbom.Medication{tc.med}}
			if err := Normalize(p, base(t), Options{}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, p.Medications[0].Resolved); diff != "" {
				t.Errorf("Resolved mismatch (-want +got):\n%s", diff)
			}
			if p.Medications[0].Status != ekbom.Current {
				t.Errorf("status = %q, want current", p.Medications[0].Status)
			}
		})
	}
}

func TestDeclines(t *testing.T) {
	p := &ekbom.Patient{AsOf: asOf, Age: ptr(50), Sex: ekbom.Male,
		Preferences: ekbom.Preferences{Declines: []string{"Opioid", "IV iron", "iv_iron", "Lyrica", "gabapentin", "Peroneal-Nerve-Stimulation"}}}
	if err := Normalize(p, base(t), Options{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"opioid", "iv_iron", "pregabalin", "gabapentin", "peroneal_nerve_stimulation"}
	if diff := cmp.Diff(want, p.Preferences.Declines); diff != "" {
		t.Errorf("declines mismatch (-want +got):\n%s", diff)
	}
}

func TestNilBaseUsesDefault(t *testing.T) {
	p, err := Read([]byte(minimal+"medications: [{name: Lyrica}]"), "", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Medications[0].Resolved.Ingredient; got != "pregabalin" {
		t.Errorf("ingredient = %q, want pregabalin", got)
	}
}

func BenchmarkRead(b *testing.B) {
	kbase := base(b)
	for _, format := range []string{"yaml", "json"} {
		data := readFile(b, "testdata/patient."+format)
		b.Run(format, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Read(data, format, kbase, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
