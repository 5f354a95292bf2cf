package fhir_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"ekbom"
	"ekbom/fhir"
	"ekbom/intake"
	"ekbom/kb"

	"github.com/google/go-cmp/cmp"
)

var asOf = ekbom.DateOf(2026, 11, 21)

const patientJSON = `{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1970-06-15"}`

// bundleOf wraps resources in a collection Bundle, after a Patient.
func bundleOf(resources ...string) []byte {
	return rawBundle(append([]string{patientJSON}, resources...)...)
}

// rawBundle wraps resources in a collection Bundle as they are.
func rawBundle(resources ...string) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i, r := range resources {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"fullUrl":"urn:uuid:e%d","resource":%s}`, i, r)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// read reads a bundle that must be valid.
func read(t *testing.T, b *kb.Base, resources ...string) *fhir.Result {
	t.Helper()
	res, err := fhir.ReadBundle(bundleOf(resources...), b, fhir.Options{AsOf: asOf})
	if err != nil {
		t.Fatalf("ReadBundle: %v", err)
	}
	return res
}

// notes returns the notes' messages, joined, for substring checks.
func notes(res *fhir.Result) string {
	var s []string
	for _, n := range res.Notes {
		s = append(s, n.String())
	}
	return strings.Join(s, "\n")
}

func wantNote(t *testing.T, res *fhir.Result, substr string) {
	t.Helper()
	if substr == "" {
		return
	}
	if !strings.Contains(notes(res), substr) {
		t.Errorf("no note contains %q; notes:\n%s", substr, notes(res))
	}
}

func obs(loinc string, value any, unit, date string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":"o-%s","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":%q}]},
		"effectiveDateTime":%q,
		"valueQuantity":{"value":%v,"unit":%q,"system":"http://unitsofmeasure.org","code":%q}}`,
		loinc, loinc, date, value, unit, unit)
}

func TestPatient(t *testing.T) {
	b := defaultBase(t)
	for _, tc := range []struct {
		name, birth, gender string
		age                 int
		sex                 ekbom.Sex
		note                string
	}{
		{"birthday today", "1970-11-21", "male", 56, ekbom.Male, ""},
		{"birthday tomorrow", "1970-11-22", "female", 55, ekbom.Female, ""},
		{"18 today", "2008-11-21", "female", 18, ekbom.Female, ""},
		{"year only never overstates", "2008", "female", 17, ekbom.Female, "no month or day"},
		{"year and month", "2008-11", "female", 17, ekbom.Female, "has no day"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := fhir.ReadBundle(rawBundle(fmt.Sprintf(`{"resourceType":"Patient","id":"x","birthDate":%q,"gender":%q,
				"extension":[{"url":"http://example.org/x","valueString":"ignored"}]}`, tc.birth, tc.gender)),
				b, fhir.Options{AsOf: asOf})
			if err != nil {
				t.Fatal(err)
			}
			p := res.Patient
			if *p.Age != tc.age || p.Sex != tc.sex || p.ID != "x" || p.AsOf != asOf {
				t.Errorf("age %d sex %s id %q as_of %s; want %d %s x %s", *p.Age, p.Sex, p.ID, p.AsOf, tc.age, tc.sex, asOf)
			}
			wantNote(t, res, tc.note)
		})
	}
}

func TestLabs(t *testing.T) {
	b := defaultBase(t)
	for _, tc := range []struct {
		name     string
		resource string
		want     []ekbom.Lab
		note     string
	}{
		{"ferritin ng/mL", obs("2276-4", 45, "ng/mL", "2026-11-03T07:40:00-05:00"),
			[]ekbom.Lab{{Test: "ferritin", Value: 45, Unit: "ng/mL", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"ferritin ug/L", obs("2276-4", 70, "ug/L", "2026-11-03"),
			[]ekbom.Lab{{Test: "ferritin", Value: 70, Unit: "ug/L", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"iron umol/L", obs("2498-4", 11, "umol/L", "2026-11-03"),
			[]ekbom.Lab{{Test: "iron", Value: 11, Unit: "umol/L", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"tibc ug/dL", obs("2500-7", 300, "ug/dL", "2026-11-03"),
			[]ekbom.Lab{{Test: "tibc", Value: 300, Unit: "ug/dL", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"hemoglobin g/L", obs("718-7", 121, "g/L", "2026-11-03"),
			[]ekbom.Lab{{Test: "hemoglobin", Value: 121, Unit: "g/L", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"creatinine umol/L", obs("2160-0", 96, "umol/L", "2026-11-03"),
			[]ekbom.Lab{{Test: "creatinine", Value: 96, Unit: "umol/L", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"egfr UCUM annotation", obs("98979-8", 88, "mL/min/{1.73_m2}", "2026-11-03"),
			[]ekbom.Lab{{Test: "egfr", Value: 88, Unit: "mL/min/1.73m2", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"egfr MDRD", obs("33914-3", 55, "mL/min/1.73m2", "2026-11-03"),
			[]ekbom.Lab{{Test: "egfr", Value: 55, Unit: "mL/min/1.73m2", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"hs-crp mg/dL", obs("30522-7", 0.3, "mg/dL", "2026-11-03"),
			[]ekbom.Lab{{Test: "crp", Value: 0.3, Unit: "mg/dL", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"phosphate mmol/L", obs("2777-1", 1.1, "mmol/L", "2026-11-03"),
			[]ekbom.Lab{{Test: "phosphate", Value: 1.1, Unit: "mmol/L", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"unit text only", `{"resourceType":"Observation","id":"u","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2502-3"}]},
			"effectiveDateTime":"2026-11-03","valueQuantity":{"value":24,"unit":"%"}}`,
			[]ekbom.Lab{{Test: "tsat", Value: 24, Unit: "%", Date: ekbom.DateOf(2026, 11, 3)}}, ""},
		{"unsupported unit", obs("718-7", 7.5, "mmol/L", "2026-11-03"), nil, `unit "mmol/L" is not supported (accepted: g/L, g/dL)`},
		{"no unit", `{"resourceType":"Observation","id":"u","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2502-3"}]},
			"effectiveDateTime":"2026-11-03","valueQuantity":{"value":24}}`, nil, "has no unit"},
		{"unknown LOINC", obs("8867-4", 72, "/min", "2026-11-03"), nil, "LOINC 8867-4"},
		{"no LOINC", `{"resourceType":"Observation","id":"u","status":"final","code":{"text":"ferritin"},
			"effectiveDateTime":"2026-11-03","valueQuantity":{"value":24,"unit":"ng/mL"}}`, nil, "no LOINC code"},
		{"comparator", `{"resourceType":"Observation","id":"c","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1988-5"}]},
			"effectiveDateTime":"2026-11-03","valueQuantity":{"value":1,"comparator":"<","unit":"mg/L"}}`, nil, "a bound, not a value"},
		{"value string", `{"resourceType":"Observation","id":"c","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1988-5"}]},
			"effectiveDateTime":"2026-11-03","valueString":"<1"}`, nil, "is text"},
		{"future", obs("2276-4", 45, "ng/mL", "2026-11-22"), nil, "after as_of"},
		{"partial date", obs("2276-4", 45, "ng/mL", "2026-11"), nil, "not a full date"},
		{"period start", `{"resourceType":"Observation","id":"p","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2276-4"}]},
			"effectivePeriod":{"start":"2026-10-01T23:30:00+02:00"},"valueQuantity":{"value":45,"unit":"ng/mL"}}`,
			[]ekbom.Lab{{Test: "ferritin", Value: 45, Unit: "ng/mL", Date: ekbom.DateOf(2026, 10, 1)}}, ""},
		{"issued", `{"resourceType":"Observation","id":"p","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2276-4"}]},
			"issued":"2026-10-02T10:00:00Z","valueQuantity":{"value":45,"unit":"ng/mL"}}`,
			[]ekbom.Lab{{Test: "ferritin", Value: 45, Unit: "ng/mL", Date: ekbom.DateOf(2026, 10, 2)}}, ""},
		{"no date", `{"resourceType":"Observation","id":"p","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2276-4"}]},
			"valueQuantity":{"value":45,"unit":"ng/mL"}}`, nil, "has no date"},
		{"fasting in a contained specimen", `{"resourceType":"Observation","id":"f","status":"final",
			"contained":[{"resourceType":"Specimen","id":"s","collection":{"fastingStatusCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0916","code":"F"}]}}}],
			"specimen":{"reference":"#s"},
			"extension":[{"url":"https://ekbom.example/fhir/StructureDefinition/iron-supplement-within-24h","valueBoolean":true}],
			"code":{"coding":[{"system":"http://loinc.org","code":"2276-4"}]},"effectiveDateTime":"2026-11-03","valueQuantity":{"value":45,"unit":"ng/mL"}}`,
			[]ekbom.Lab{{Test: "ferritin", Value: 45, Unit: "ng/mL", Date: ekbom.DateOf(2026, 11, 3), Fasting: ptr(true), IronSupplementWithin24h: ptr(true)}}, ""},
		{"missing specimen", `{"resourceType":"Observation","id":"f","status":"final","specimen":{"reference":"Specimen/nope"},
			"code":{"coding":[{"system":"http://loinc.org","code":"2276-4"}]},"effectiveDateTime":"2026-11-03","valueQuantity":{"value":45,"unit":"ng/mL"}}`,
			[]ekbom.Lab{{Test: "ferritin", Value: 45, Unit: "ng/mL", Date: ekbom.DateOf(2026, 11, 3)}}, "fasting status unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resource)
			if diff := cmp.Diff(tc.want, res.Patient.Labs, dateCmp); diff != "" {
				t.Errorf("labs (-want +got):\n%s", diff)
			}
			wantNote(t, res, tc.note)
		})
	}
}

var dateCmp = cmp.Comparer(func(a, b ekbom.Date) bool { return a == b })

func ptr[T any](x T) *T { return &x }

func dateText(d *ekbom.Date) string {
	if d == nil {
		return ""
	}
	return d.String()
}

func TestLabStatus(t *testing.T) {
	b := defaultBase(t)
	for status, kept := range map[string]bool{
		"final": true, "amended": true, "corrected": true, "preliminary": true,
		"entered-in-error": false, "cancelled": false, "registered": false, "unknown": false,
	} {
		t.Run(status, func(t *testing.T) {
			r := strings.Replace(obs("2276-4", 45, "ng/mL", "2026-11-03"), `"final"`, fmt.Sprintf("%q", status), 1)
			res := read(t, b, r)
			if got := len(res.Patient.Labs) == 1; got != kept {
				t.Errorf("kept = %v, want %v", got, kept)
			}
			if !kept {
				wantNote(t, res, "status "+status)
			}
		})
	}
}

func TestLabsNewestAndDuplicates(t *testing.T) {
	b := defaultBase(t)
	older := obs("2276-4", 30, "ng/mL", "2026-05-01")
	newer := strings.Replace(obs("2276-4", 45, "ng/mL", "2026-11-03"), `"o-2276-4"`, `"o-new"`, 1)
	dup := strings.Replace(newer, `"o-new"`, `"o-dup"`, 1)
	res := read(t, b, older, newer, dup)
	want := []ekbom.Lab{
		{Test: "ferritin", Value: 30, Unit: "ng/mL", Date: ekbom.DateOf(2026, 5, 1)},
		{Test: "ferritin", Value: 45, Unit: "ng/mL", Date: ekbom.DateOf(2026, 11, 3)},
	}
	if diff := cmp.Diff(want, res.Patient.Labs, dateCmp); diff != "" {
		t.Errorf("labs (-want +got):\n%s", diff)
	}
	wantNote(t, res, "Observation/o-dup: ferritin 45 ng/mL on 2026-11-03 repeats Observation/o-new: dropped")
	if res.Origin["labs[1]"] != "entry[2].resource" {
		t.Errorf("origin of labs[1] = %q", res.Origin["labs[1]"])
	}
}

func TestWeight(t *testing.T) {
	w := func(v any, unit, date string) string {
		return strings.Replace(obs(weightLOINC, v, unit, date), `"o-`+weightLOINC+`"`, `"w-`+date+`"`, 1)
	}
	t.Run("not in codes.yaml", func(t *testing.T) {
		b := defaultBase(t)
		hasWeight := false
		for _, lc := range b.Codes.Labs {
			hasWeight = hasWeight || lc.Test == "weight"
		}
		res := read(t, b, w(66, "kg", "2026-11-03"))
		if hasWeight {
			if res.Patient.WeightKg == nil || *res.Patient.WeightKg != 66 {
				t.Errorf("weight = %v, want 66", res.Patient.WeightKg)
			}
			return
		}
		if res.Patient.WeightKg != nil {
			t.Errorf("weight = %v without a codes.yaml row", *res.Patient.WeightKg)
		}
		wantNote(t, res, "LOINC 29463-7")
	})
	b := baseWithWeight(t)
	for _, tc := range []struct {
		name string
		obs  []string
		want float64
		note string
	}{
		{"kg", []string{w(66, "kg", "2026-11-03")}, 66, ""},
		{"pounds", []string{w(150, "[lb_av]", "2026-11-03")}, 68.04, ""},
		{"grams", []string{w(70500, "g", "2026-11-03")}, 70.5, ""},
		{"newest wins", []string{w(80, "kg", "2026-11-03"), w(70, "kg", "2025-01-01")}, 80, "the weight of 2026-11-03 is used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.obs...)
			if res.Patient.WeightKg == nil || *res.Patient.WeightKg != tc.want {
				t.Errorf("weight = %v, want %v", res.Patient.WeightKg, tc.want)
			}
			wantNote(t, res, tc.note)
		})
	}
}

func cond(system, code, extra string) string {
	return fmt.Sprintf(`{"resourceType":"Condition","id":"c-%s","code":{"coding":[{"system":%q,"code":%q}]}%s}`,
		strings.ReplaceAll(code, ".", ""), system, code, extra)
}

const (
	snomed = "http://snomed.info/sct"
	icd    = "http://hl7.org/fhir/sid/icd-10-cm"
)

func clinical(code string) string {
	return fmt.Sprintf(`,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":%q}]}`, code)
}

func verification(code string) string {
	return fmt.Sprintf(`,"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":%q}]}`, code)
}

func TestConditions(t *testing.T) {
	b := defaultBase(t)
	for _, tc := range []struct {
		name      string
		resources []string
		want      []ekbom.Condition
		pregnancy ekbom.Pregnancy
		note      string
	}{
		{"snomed esrd", []string{cond(snomed, "46177005", clinical("active"))}, []ekbom.Condition{ekbom.ESRD}, "", ""},
		{"icd ckd, dots and case folded", []string{cond(icd, "n185", "")}, []ekbom.Condition{ekbom.CKD}, "", ""},
		{"two codes, one condition", []string{cond(icd, "N18.6", ""), cond(icd, "Z99.2", "")}, []ekbom.Condition{ekbom.ESRD}, "", ""},
		{"F11 family", []string{cond(icd, "F11.99", "")}, []ekbom.Condition{ekbom.OpioidUseDisorder}, "", ""},
		{"F11 family in remission", []string{cond(icd, "F11.21", clinical("recurrence"))}, []ekbom.Condition{ekbom.OpioidUseDisorder}, "", ""},
		{"no family for hemochromatosis", []string{cond(icd, "E83.01", "")}, nil, "", "ICD-10-CM E83.01"},
		{"relapse kept", []string{cond(snomed, "13645005", clinical("relapse"))}, []ekbom.Condition{ekbom.COPD}, "", ""},
		{"resolved", []string{cond(snomed, "13645005", clinical("resolved"))}, nil, "", "clinical status resolved"},
		{"inactive", []string{cond(snomed, "13645005", clinical("inactive"))}, nil, "", "clinical status inactive"},
		{"refuted", []string{cond(snomed, "13645005", verification("refuted"))}, nil, "", "verification status refuted"},
		{"entered in error", []string{cond(snomed, "13645005", verification("entered-in-error"))}, nil, "", "entered-in-error"},
		{"provisional kept", []string{cond(snomed, "13645005", verification("provisional"))}, []ekbom.Condition{ekbom.COPD}, "", ""},
		{"abated", []string{cond(snomed, "13645005", `,"abatementDateTime":"2020-01-01"`)}, nil, "", "abated"},
		{"future onset", []string{cond(snomed, "13645005", `,"onsetDateTime":"2027-01-01"`)}, nil, "", "after as_of"},
		{"unknown code", []string{cond(snomed, "38341003", "")}, nil, "", "SNOMED CT 38341003"},
		{"hypothyroidism, not RLS", []string{cond(snomed, "40930008", "")}, nil, "", "SNOMED CT 40930008"},
		{"other patient", []string{cond(snomed, "13645005", `,"subject":{"reference":"Patient/other"}`)}, nil, "", "is not the patient"},
		{"this patient", []string{cond(snomed, "13645005", `,"subject":{"reference":"https://ehr.example/fhir/Patient/p1"}`)}, []ekbom.Condition{ekbom.COPD}, "", ""},
		{"pregnant snomed", []string{cond(snomed, "77386006", "")}, nil, ekbom.Pregnant, ""},
		{"pregnant icd", []string{cond(icd, "Z33.1", "")}, nil, ekbom.Pregnant, ""},
		{"pregnancy resolved", []string{cond(icd, "Z33.1", clinical("resolved"))}, nil, "", "clinical status resolved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resources...)
			if diff := cmp.Diff(tc.want, res.Patient.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if res.Patient.Pregnancy != tc.pregnancy {
				t.Errorf("pregnancy = %q, want %q", res.Patient.Pregnancy, tc.pregnancy)
			}
			wantNote(t, res, tc.note)
		})
	}
}

// TestRLSDiagnosis: Result.RLS names the active Conditions coding RLS
// (codes.yaml diagnosis) and ekbom's answered questionnaires, and nothing
// else; the CDS Hooks services stay silent when it is empty.
func TestRLSDiagnosis(t *testing.T) {
	b := defaultBase(t)
	for _, tc := range []struct {
		name      string
		resources []string
		want      []string
		note      string
	}{
		{"snomed", []string{cond(snomed, "32914008", clinical("active"))}, []string{"Condition/c-32914008"}, ""},
		{"icd, dot and case folded", []string{cond(icd, "g2581", "")}, []string{"Condition/c-g2581"}, ""},
		{"both codes in one Condition", []string{`{"resourceType":"Condition","id":"c1","code":{"coding":[` +
			`{"system":"http://snomed.info/sct","code":"32914008"},{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"G25.81"}]}}`},
			[]string{"Condition/c1"}, ""},
		{"RLS and a comorbidity", []string{cond(snomed, "32914008", ""), cond(snomed, "46177005", "")}, []string{"Condition/c-32914008"}, ""},
		// Whatever its clinical status: RLS controlled on treatment may be
		// coded as in remission or inactive.
		{"remission", []string{cond(snomed, "32914008", clinical("remission"))}, []string{"Condition/c-32914008"}, ""},
		{"inactive", []string{cond(snomed, "32914008", clinical("inactive"))}, []string{"Condition/c-32914008"}, ""},
		{"abated", []string{cond(icd, "G25.81", `,"abatementDateTime":"2020-01-01"`)}, []string{"Condition/c-G2581"}, ""},
		{"refuted", []string{cond(snomed, "32914008", verification("refuted"))}, nil, "verification status refuted"},
		{"entered in error", []string{cond(icd, "G25.81", verification("entered-in-error"))}, nil, "entered-in-error"},
		{"SNOMED CT as an OID", []string{cond("urn:oid:2.16.840.1.113883.6.96", "32914008", "")}, []string{"Condition/c-32914008"}, ""},
		{"ICD-10-CM as an OID", []string{cond("urn:oid:2.16.840.1.113883.6.90", "G25.81", "")}, []string{"Condition/c-G2581"}, ""},
		{"system with a trailing slash", []string{cond("http://snomed.info/sct/", "32914008", "")}, []string{"Condition/c-32914008"}, ""},
		{"text only", []string{`{"resourceType":"Condition","id":"t1","code":{"text":"Restless Legs Syndrome"}}`}, []string{"Condition/t1"}, "read as restless legs syndrome from its text"},
		{"local code with a display", []string{`{"resourceType":"Condition","id":"t2","code":{"coding":[{"system":"http://hospital.example/problems","code":"RLS1","display":"Willis-Ekbom disease"}]}}`},
			[]string{"Condition/t2"}, "from its text"},
		{"text of a coded other condition is not read as RLS", []string{`{"resourceType":"Condition","id":"t3","code":{"coding":[{"system":"http://snomed.info/sct","code":"46177005"}],"text":"ESRD (restless legs too)"}}`}, nil, ""},
		{"refuted by text", []string{`{"resourceType":"Condition","id":"t4","code":{"text":"restless legs"}` + verification("refuted") + `}`}, nil, "refuted"},
		{"other patient", []string{cond(snomed, "32914008", `,"subject":{"reference":"Patient/other"}`)}, nil, "is not the patient"},
		{"hypothyroidism code often mistaken for RLS", []string{cond(snomed, "40930008", "")}, nil, "SNOMED CT 40930008"},
		{"other ICD-10-CM G25 code", []string{cond(icd, "G25.89", "")}, nil, "ICD-10-CM G25.89"},
		{"ekbom questionnaire", []string{qr("q1", "2026-11-01", "")}, []string{"QuestionnaireResponse/q1"}, ""},
		{"nothing", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resources...)
			if diff := cmp.Diff(tc.want, res.RLS); diff != "" {
				t.Errorf("RLS (-want +got):\n%s", diff)
			}
			if coded := tc.want != nil && strings.HasPrefix(tc.want[0], "Condition/") && !strings.Contains(tc.note, "from its text"); res.RLSCoded != coded {
				t.Errorf("RLSCoded = %v, want %v", res.RLSCoded, coded)
			}
			if tc.want != nil && strings.Contains(notes(res), "not a condition ekbom reads") {
				t.Errorf("an RLS Condition is noted as unread: %s", notes(res))
			}
			wantNote(t, res, tc.note)
		})
	}
}

// medRequest writes a MedicationRequest; med is the medication[x] element.
func medRequest(id, status, med, dosage, extra string) string {
	s := fmt.Sprintf(`{"resourceType":"MedicationRequest","id":%q,"status":%q,"intent":"order",%s`, id, status, med)
	if dosage != "" {
		s += `,"dosageInstruction":[` + dosage + `]`
	}
	return s + extra + "}"
}

func medStatement(id, status, med, dosage, extra string) string {
	s := fmt.Sprintf(`{"resourceType":"MedicationStatement","id":%q,"status":%q,%s`, id, status, med)
	if dosage != "" {
		s += `,"dosage":[` + dosage + `]`
	}
	return s + extra + "}"
}

func medText(s string) string { return fmt.Sprintf(`"medicationCodeableConcept":{"text":%q}`, s) }

func rxnorm(code, display string) string {
	return fmt.Sprintf(`"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":%q,"display":%q}]}`, code, display)
}

func dose(v any, unit, timing string) string {
	s := fmt.Sprintf(`{"doseAndRate":[{"doseQuantity":{"value":%v,"unit":%q,"system":"http://unitsofmeasure.org","code":%q}}]`, v, unit, unit)
	if timing != "" {
		s += `,"timing":` + timing
	}
	return s + "}"
}

func repeat(freq any, period any, unit string) string {
	return fmt.Sprintf(`{"repeat":{"frequency":%v,"period":%v,"periodUnit":%q}}`, freq, period, unit)
}

func TestMedicationStatus(t *testing.T) {
	b := defaultBase(t)
	med := medText("gabapentin")
	for _, tc := range []struct {
		resource string
		want     ekbom.MedStatus // "" = not read
	}{
		{medRequest("r", "active", med, "", ""), ekbom.Current},
		{medRequest("r", "on-hold", med, "", ""), ekbom.Current},
		{medRequest("r", "completed", med, "", ""), ekbom.Past},
		{medRequest("r", "stopped", med, "", ""), ekbom.Past},
		{medRequest("r", "entered-in-error", med, "", ""), ""},
		{medRequest("r", "cancelled", med, "", ""), ""},
		{medRequest("r", "draft", med, "", ""), ""},
		{medRequest("r", "unknown", med, "", ""), ""},
		{strings.Replace(medRequest("r", "active", med, "", ""), `"order"`, `"proposal"`, 1), ""},
		{strings.Replace(medRequest("r", "active", med, "", ""), `"order"`, `"plan"`, 1), ekbom.Current},
		{medStatement("s", "active", med, "", ""), ekbom.Current},
		{medStatement("s", "intended", med, "", ""), ekbom.Current},
		{medStatement("s", "on-hold", med, "", ""), ekbom.Current},
		{medStatement("s", "completed", med, "", ""), ekbom.Past},
		{medStatement("s", "stopped", med, "", ""), ekbom.Past},
		{medStatement("s", "not-taken", med, "", ""), ""},
		{medStatement("s", "entered-in-error", med, "", ""), ""},
		{medStatement("s", "unknown", med, "", ""), ""},
	} {
		var h struct{ ResourceType, Status, Intent string }
		if err := json.Unmarshal([]byte(tc.resource), &h); err != nil {
			t.Fatal(err)
		}
		t.Run(h.ResourceType+"/"+h.Status+"/"+h.Intent, func(t *testing.T) {
			res := read(t, b, tc.resource)
			meds := res.Patient.Medications
			switch {
			case tc.want == "" && len(meds) != 0:
				t.Errorf("read as %+v, want not read", meds[0])
			case tc.want == "":
				if len(res.Notes) == 0 {
					t.Error("not read, but no note says why")
				}
			case len(meds) != 1:
				t.Errorf("%d medications, want 1", len(meds))
			case meds[0].Status != tc.want || meds[0].Name != "gabapentin":
				t.Errorf("got %s %s, want %s gabapentin", meds[0].Status, meds[0].Name, tc.want)
			}
		})
	}
}

func TestMedicationDose(t *testing.T) {
	b := defaultBase(t)
	type med struct {
		Name                string
		Sig                 string
		DoseMg, Times, Rate *float64
		Ingredient          string
		DailyMg             *float64
		Bedtime             bool
	}
	for _, tc := range []struct {
		name     string
		resource string
		want     med
		note     string
	}{
		{"mg three times a day", medRequest("r", "active", medText("gabapentin 300 mg capsule"), dose(300, "mg", repeat(3, 1, "d")), ""),
			med{Name: "gabapentin", DoseMg: ptr(300.0), Times: ptr(3.0), Ingredient: "gabapentin", DailyMg: ptr(900.0)}, ""},
		{"mcg to mg", medRequest("r", "active", medText("pramipexole"), dose(125, "ug", repeat(1, 1, "d")), ""),
			med{Name: "pramipexole", DoseMg: ptr(0.125), Times: ptr(1.0), Ingredient: "pramipexole", DailyMg: ptr(0.125)}, ""},
		{"g to mg", medRequest("r", "active", medText("ferrous sulfate"), dose(0.325, "g", repeat(1, 2, "d")), ""),
			med{Name: "ferrous_sulfate", DoseMg: ptr(325.0), Times: ptr(0.5), Ingredient: "ferrous_sulfate", DailyMg: ptr(162.5)}, ""},
		{"every 12 hours", medRequest("r", "active", medText("OxyContin"), dose(10, "mg", repeat(1, 12, "h")), ""),
			med{Name: "oxycodone", DoseMg: ptr(10.0), Times: ptr(2.0), Ingredient: "oxycodone", DailyMg: ptr(20.0)}, ""},
		{"weekly", medRequest("r", "active", medText("ferrous sulfate"), dose(325, "mg", repeat(2, 1, "wk")), ""),
			med{Name: "ferrous_sulfate", DoseMg: ptr(325.0), Times: ptr(2.0 / 7), Ingredient: "ferrous_sulfate", DailyMg: ptr(92.857143)}, ""},
		{"monthly has no daily dose", medRequest("r", "active", medText("gabapentin"), dose(300, "mg", repeat(1, 1, "mo")), ""),
			med{Name: "gabapentin", DoseMg: ptr(300.0), Ingredient: "gabapentin"}, "no fixed number of doses a day"},
		{"bedtime", medRequest("r", "active", medText("pregabalin"), dose(75, "mg", `{"repeat":{"when":["HS"]}}`), ""),
			med{Name: "pregabalin", Sig: "at bedtime", DoseMg: ptr(75.0), Times: ptr(1.0), Ingredient: "pregabalin", DailyMg: ptr(75.0), Bedtime: true}, ""},
		{"twice daily including bedtime", medRequest("r", "active", medText("gabapentin"), dose(300, "mg", `{"repeat":{"frequency":2,"period":1,"periodUnit":"d","when":["MORN","HS"]}}`), ""),
			med{Name: "gabapentin", Sig: "twice daily including at bedtime", DoseMg: ptr(300.0), Times: ptr(2.0), Ingredient: "gabapentin", DailyMg: ptr(600.0), Bedtime: true}, ""},
		{"times of day", medRequest("r", "active", medText("gabapentin"), dose(300, "mg", `{"repeat":{"timeOfDay":["08:00:00","20:00:00"]}}`), ""),
			med{Name: "gabapentin", DoseMg: ptr(300.0), Times: ptr(2.0), Ingredient: "gabapentin", DailyMg: ptr(600.0)}, ""},
		{"timing abbreviation", medRequest("r", "active", medText("gabapentin"), dose(300, "mg", `{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation","code":"TID"}]}}`), ""),
			med{Name: "gabapentin", DoseMg: ptr(300.0), Times: ptr(3.0), Ingredient: "gabapentin", DailyMg: ptr(900.0)}, ""},
		{"as needed", medRequest("r", "active", medText("clonazepam"), `{"asNeededBoolean":true,"doseAndRate":[{"doseQuantity":{"value":0.5,"unit":"mg"}}],"timing":{"repeat":{"when":["HS"]}}}`, ""),
			med{Name: "clonazepam", Sig: "at bedtime as needed", DoseMg: ptr(0.5), Times: ptr(1.0), Ingredient: "clonazepam", DailyMg: ptr(0.5), Bedtime: true}, ""},
		{"patch mg/24 h as a dose", medRequest("r", "active", medText("Neupro"), dose(2, "mg/(24.h)", repeat(1, 1, "d")), ""),
			med{Name: "rotigotine", Rate: ptr(2.0), Ingredient: "rotigotine", DailyMg: ptr(2.0)}, ""},
		{"patch mcg/h as a rate", medRequest("r", "active", medText("Butrans"), `{"doseAndRate":[{"doseQuantity":{"value":1,"unit":"patch"},"rateQuantity":{"value":5,"unit":"mcg/h"}}],"timing":{"repeat":{"frequency":1,"period":7,"periodUnit":"d"}}}`, ""),
			med{Name: "buprenorphine", Rate: ptr(0.12), Ingredient: "buprenorphine", DailyMg: ptr(0.12)}, ""},
		{"tablets: text read as the sig", medRequest("r", "active", medText("Sinemet 25/100"), `{"text":"Sinemet 25/100 mg three times daily","doseAndRate":[{"doseQuantity":{"value":1,"unit":"tablet"}}],"timing":{"code":{"text":"TID"}}}`, ""),
			med{Name: "levodopa", Sig: "Sinemet 25/100 mg three times daily", Ingredient: "levodopa", DailyMg: ptr(300.0)}, "is not an amount in mg"},
		{"no timing: frequency from the text", medRequest("r", "active", medText("gabapentin"), `{"text":"take one capsule three times a day","doseAndRate":[{"doseQuantity":{"value":300,"unit":"mg"}}]}`, ""),
			med{Name: "gabapentin", Sig: "300 mg take one capsule three times a day", Ingredient: "gabapentin", DailyMg: ptr(900.0)}, ""},
		{"text naming another drug is not read", medRequest("r", "active", medText("gabapentin"), `{"text":"pregabalin 75 mg twice daily"}`, ""),
			med{Name: "gabapentin", Ingredient: "gabapentin"}, "names pregabalin, not gabapentin"},
		{"only a dose", medRequest("r", "active", medText("gabapentin"), dose(300, "mg", ""), ""),
			med{Name: "gabapentin", DoseMg: ptr(300.0), Ingredient: "gabapentin"}, ""},
		{"split dose not worked out", medRequest("r", "active", medText("gabapentin"), dose(300, "mg", repeat(1, 1, "d"))+","+dose(600, "mg", `{"repeat":{"when":["HS"]}}`), ""),
			med{Name: "gabapentin", Ingredient: "gabapentin"}, "2 dosage instructions"},
		{"statement dosage", medStatement("s", "active", medText("Lyrica 75 mg"), dose(75, "mg", repeat(2, 1, "d")), ""),
			med{Name: "pregabalin", DoseMg: ptr(75.0), Times: ptr(2.0), Ingredient: "pregabalin", DailyMg: ptr(150.0)}, ""},
		{"zero dose", medRequest("r", "active", medText("gabapentin"), dose(0, "mg", repeat(3, 1, "d")), ""),
			med{Name: "gabapentin", Times: ptr(3.0), Ingredient: "gabapentin"}, "dose of 0 mg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resource)
			if len(res.Patient.Medications) != 1 {
				t.Fatalf("%d medications; notes:\n%s", len(res.Patient.Medications), notes(res))
			}
			m := res.Patient.Medications[0]
			got := med{Name: m.Name, Sig: m.Sig, DoseMg: m.DoseMg, Times: m.TimesPerDay, Rate: m.DoseMgPer24h}
			p := res.Patient
			if err := intake.Normalize(p, b, intake.Options{}); err != nil {
				t.Fatalf("intake.Normalize: %v", res.Locate(err))
			}
			r := p.Medications[0].Resolved
			got.Ingredient, got.DailyMg, got.Bedtime = r.Ingredient, r.DailyMg, r.Bedtime
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			wantNote(t, res, tc.note)
		})
	}
}

func TestMedicationResolution(t *testing.T) {
	b := defaultBase(t)
	for _, tc := range []struct {
		name     string
		resource []string
		want     string // Medication.Name
		note     string
	}{
		{"verified RxNorm code", []string{medRequest("r", "active", rxnorm("7804", "some product"), "", "")}, "oxycodone", ""},
		{"unverified code, display", []string{medRequest("r", "active", rxnorm("25480", "Neurontin 300 MG Oral Capsule"), "", "")}, "gabapentin", ""},
		{"unverified code only", []string{medRequest("r", "active", `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"25480"}]}`, "", "")},
			"RxNorm 25480", "not in the knowledge base"},
		{"code wins over text", []string{medRequest("r", "active", `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"6813"}],"text":"oxycodone"}`, "", "")},
			"methadone", "the text names oxycodone"},
		{"brand in text", []string{medRequest("r", "active", medText("Horizant 600 mg ER tablet"), "", "")}, "gabapentin_enacarbil", ""},
		{"unknown drug passed on", []string{medRequest("r", "active", medText("atorvastatin 20 mg"), "", "")}, "atorvastatin 20 mg", "not in the knowledge base"},
		{"contained Medication", []string{medRequest("r", "active", `"medicationReference":{"reference":"#m"}`, "",
			`,"contained":[{"resourceType":"Medication","id":"m","code":{"text":"Requip 1 mg"}}]`)}, "ropinirole", ""},
		{"bundle Medication by id", []string{`{"resourceType":"Medication","id":"m1","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7052"}]}}`,
			medRequest("r", "active", `"medicationReference":{"reference":"Medication/m1"}`, "", "")}, "morphine", ""},
		{"bundle Medication by fullUrl", []string{`{"resourceType":"Medication","code":{"text":"Mirapex"}}`,
			medRequest("r", "active", `"medicationReference":{"reference":"urn:uuid:e1"}`, "", "")}, "pramipexole", ""},
		{"Medication ingredients", []string{medRequest("r", "active", `"medicationReference":{"reference":"#m"}`, "",
			`,"contained":[{"resourceType":"Medication","id":"m","ingredient":[{"itemCodeableConcept":{"text":"oxycodone"}},{"itemCodeableConcept":{"text":"naloxone"}}]}]`)},
			"oxycodone_naloxone", ""},
		{"missing Medication with display", []string{medRequest("r", "active", `"medicationReference":{"reference":"Medication/gone","display":"clonazepam 0.5 mg"}`, "", "")}, "clonazepam", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resource...)
			if len(res.Patient.Medications) != 1 {
				t.Fatalf("%d medications; notes:\n%s", len(res.Patient.Medications), notes(res))
			}
			if got := res.Patient.Medications[0].Name; got != tc.want {
				t.Errorf("name = %q, want %q", got, tc.want)
			}
			wantNote(t, res, tc.note)
		})
	}
}

func TestMedicationDatesAndOutcome(t *testing.T) {
	b := defaultBase(t)
	outcome := func(code string) string {
		return fmt.Sprintf(`,"statusReason":[{"coding":[{"system":"https://ekbom.example/fhir/CodeSystem/trial-outcome","code":%q}]}]`, code)
	}
	for _, tc := range []struct {
		name        string
		resource    string
		start, stop string
		outcome     ekbom.Outcome
		note        string
	}{
		{"statement period", medStatement("s", "stopped", medText("gabapentin"), "", `,"effectivePeriod":{"start":"2024-01-02","end":"2024-03-04"}`+outcome("intolerant")),
			"2024-01-02", "2024-03-04", ekbom.Intolerant, ""},
		{"statement effectiveDateTime", medStatement("s", "active", medText("gabapentin"), "", `,"effectiveDateTime":"2024-01-02T10:00:00Z"`), "2024-01-02", "", "", ""},
		{"current keeps no stop", medStatement("s", "active", medText("gabapentin"), "", `,"effectivePeriod":{"start":"2024-01-02","end":"2027-01-01"}`), "2024-01-02", "", "", ""},
		{"request authoredOn", medRequest("r", "active", medText("gabapentin"), "", `,"authoredOn":"2025-05-06"`), "2025-05-06", "", "", ""},
		{"request bounds", medRequest("r", "stopped", medText("gabapentin"), `{"timing":{"repeat":{"boundsPeriod":{"start":"2023-01-01","end":"2023-02-15"}}}}`,
			`,"authoredOn":"2022-12-20","statusReason":{"coding":[{"system":"https://ekbom.example/fhir/CodeSystem/trial-outcome","code":"augmentation"}]}`),
			"2023-01-01", "2023-02-15", ekbom.Augmented, ""},
		{"partial start", medStatement("s", "active", medText("gabapentin"), "", `,"effectivePeriod":{"start":"2024-03"}`), "2024-03-01", "", "", "not a full date"},
		{"future start dropped", medRequest("r", "active", medText("gabapentin"), "", `,"authoredOn":"2026-12-01"`), "", "", "", "after as_of"},
		{"stop before start", medStatement("s", "stopped", medText("gabapentin"), "", `,"effectivePeriod":{"start":"2024-03-01","end":"2024-01-01"}`), "2024-03-01", "", "", "before start"},
		{"free-text reason not interpreted", medStatement("s", "stopped", medText("gabapentin"), "", `,"statusReason":[{"text":"did not help"}]`), "", "", "", `stop reason "did not help" is not coded`},
		{"unknown outcome code", medStatement("s", "stopped", medText("gabapentin"), "", outcome("bad")), "", "", "", `stop reason code "bad"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resource)
			if len(res.Patient.Medications) != 1 {
				t.Fatalf("%d medications; notes:\n%s", len(res.Patient.Medications), notes(res))
			}
			m := res.Patient.Medications[0]
			if got := dateText(m.Start); got != tc.start {
				t.Errorf("start = %q, want %q", got, tc.start)
			}
			if got := dateText(m.Stop); got != tc.stop {
				t.Errorf("stop = %q, want %q", got, tc.stop)
			}
			if m.Outcome != tc.outcome {
				t.Errorf("outcome = %q, want %q", m.Outcome, tc.outcome)
			}
			wantNote(t, res, tc.note)
		})
	}
}

func TestMedicationDedupe(t *testing.T) {
	b := defaultBase(t)
	gabaStmt := medStatement("s", "active", medText("gabapentin"), "", `,"effectiveDateTime":"2021-01-01"`)
	gabaReq := medRequest("r", "active", medText("Neurontin"), dose(300, "mg", repeat(3, 1, "d")), `,"authoredOn":"2021-01-01"`)
	for _, tc := range []struct {
		name      string
		resources []string
		want      []string // "status name dose" per medication kept
		note      string
	}{
		{"request with dose over statement without", []string{gabaStmt, gabaReq}, []string{"current gabapentin 300"}, "MedicationStatement/s: gabapentin is also in MedicationRequest/r: this one is dropped"},
		{"order does not matter", []string{gabaReq, gabaStmt}, []string{"current gabapentin 300"}, ""},
		{"newest of two statements", []string{
			medStatement("old", "active", medText("gabapentin"), dose(100, "mg", repeat(1, 1, "d")), `,"effectiveDateTime":"2020-01-01"`),
			medStatement("new", "active", medText("gabapentin"), dose(300, "mg", repeat(1, 1, "d")), `,"effectiveDateTime":"2024-01-01"`),
		}, []string{"current gabapentin 300"}, "MedicationStatement/old"},
		{"past without outcome is an earlier dose", []string{
			medRequest("old", "completed", medText("gabapentin"), dose(100, "mg", repeat(1, 1, "d")), ""), gabaReq,
		}, []string{"current gabapentin 300"}, "read as an earlier dose"},
		{"past with outcome kept", []string{
			medStatement("old", "stopped", medText("gabapentin"), dose(100, "mg", repeat(1, 1, "d")),
				`,"statusReason":[{"coding":[{"system":"https://ekbom.example/fhir/CodeSystem/trial-outcome","code":"ineffective"}]}]`), gabaReq,
		}, []string{"past gabapentin 100", "current gabapentin 300"}, ""},
		{"exact past duplicates", []string{
			medStatement("a", "completed", medText("pregabalin"), dose(75, "mg", repeat(2, 1, "d")), `,"effectivePeriod":{"start":"2020-01-01","end":"2020-02-01"}`),
			medRequest("b", "completed", medText("Lyrica"), dose(75, "mg", repeat(2, 1, "d")), `,"authoredOn":"2020-01-01"`),
			medStatement("c", "completed", medText("pregabalin"), dose(75, "mg", repeat(2, 1, "d")), `,"effectivePeriod":{"start":"2020-01-01","end":"2020-02-01"}`),
		}, []string{"past pregabalin 75", "past pregabalin 75"}, "MedicationStatement/c: past pregabalin repeats MedicationStatement/a"},
		{"unknown drugs by name", []string{
			medStatement("a", "active", medText("Atorvastatin"), "", ""), medStatement("b", "active", medText("atorvastatin"), "", ""),
		}, []string{"current Atorvastatin -"}, "is also in"},
		{"different ingredients kept", []string{gabaReq, medRequest("p", "active", medText("pramipexole"), "", "")},
			[]string{"current gabapentin 300", "current pramipexole -"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resources...)
			var got []string
			for _, m := range res.Patient.Medications {
				d := "-"
				if m.DoseMg != nil {
					d = fmt.Sprint(*m.DoseMg)
				}
				got = append(got, fmt.Sprintf("%s %s %s", m.Status, m.Name, d))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s\nnotes:\n%s", diff, notes(res))
			}
			wantNote(t, res, tc.note)
		})
	}
}

func administration(id, status, med, date, doseJSON string) string {
	return fmt.Sprintf(`{"resourceType":"MedicationAdministration","id":%q,"status":%q,%s,"effectiveDateTime":%q,"dosage":%s}`,
		id, status, med, date, doseJSON)
}

func TestInfusions(t *testing.T) {
	b := defaultBase(t)
	mg := func(v any, unit string) string { return fmt.Sprintf(`{"dose":{"value":%v,"unit":%q}}`, v, unit) }
	for _, tc := range []struct {
		name      string
		resources []string
		want      []ekbom.Infusion
		note      string
	}{
		{"FCM", []string{administration("a", "completed", medText("Injectafer"), "2026-09-08T10:00:00Z", mg(750, "mg"))},
			[]ekbom.Infusion{{Date: ekbom.DateOf(2026, 9, 8), Product: "ferric_carboxymaltose", DoseMg: 750}}, ""},
		{"grams", []string{administration("a", "completed", medText("iron sucrose"), "2026-09-08", mg(0.2, "g"))},
			[]ekbom.Infusion{{Date: ekbom.DateOf(2026, 9, 8), Product: "iron_sucrose", DoseMg: 200}}, ""},
		{"period start", []string{`{"resourceType":"MedicationAdministration","id":"a","status":"completed","medicationCodeableConcept":{"text":"Monoferric"},
			"effectivePeriod":{"start":"2026-09-08T10:00:00Z","end":"2026-09-08T10:30:00Z"},"dosage":{"dose":{"value":1000,"unit":"mg"}}}`},
			[]ekbom.Infusion{{Date: ekbom.DateOf(2026, 9, 8), Product: "ferric_derisomaltose", DoseMg: 1000}}, ""},
		{"not done", []string{administration("a", "not-done", medText("Injectafer"), "2026-09-08", mg(750, "mg"))}, nil, "status not-done"},
		{"not iron", []string{administration("a", "completed", medText("ondansetron"), "2026-09-08", mg(4, "mg"))}, nil, "IV iron only"},
		{"oral iron", []string{administration("a", "completed", medText("ferrous sulfate"), "2026-09-08", mg(325, "mg"))}, nil, "IV iron only"},
		{"no dose", []string{administration("a", "completed", medText("Venofer"), "2026-09-08", `{"text":"per protocol"}`)}, nil, "has no dose"},
		{"dose in mL", []string{administration("a", "completed", medText("Venofer"), "2026-09-08", mg(10, "mL"))}, nil, "not an amount in mg"},
		{"future", []string{administration("a", "completed", medText("Venofer"), "2026-12-08", mg(200, "mg"))}, nil, "after as_of"},
		{"duplicate", []string{
			administration("a", "completed", medText("Venofer"), "2026-09-08", mg(200, "mg")),
			administration("b", "completed", medText("iron sucrose"), "2026-09-08", mg(200, "mg")),
		}, []ekbom.Infusion{{Date: ekbom.DateOf(2026, 9, 8), Product: "iron_sucrose", DoseMg: 200}}, "repeats MedicationAdministration/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resources...)
			if diff := cmp.Diff(tc.want, res.Patient.IronInfusions, dateCmp); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if len(res.Patient.Medications) != 0 {
				t.Errorf("administrations became medications: %+v", res.Patient.Medications)
			}
			wantNote(t, res, tc.note)
		})
	}
}

func TestIsFHIR(t *testing.T) {
	for in, want := range map[string]bool{
		`{"resourceType":"Bundle"}`:                      true,
		"\ufeff" + `{"resourceType":"Patient","id":"x"}`: true,
		` {"age": 60, "sex": "female"}`:                  false,
		`{"resourceType":""}`:                            false,
		`{"resourceType":5}`:                             false,
		`[{"resourceType":"Bundle"}]`:                    false,
		"age: 60\nsex: female\n":                         false,
		"resourceType: Bundle\n":                         false,
		``:                                               false,
		`{"resourceType":"Bundle"`:                       false,
	} {
		if got := fhir.IsFHIR([]byte(in)); got != want {
			t.Errorf("IsFHIR(%q) = %v, want %v", in, got, want)
		}
	}
}

// problems returns the "path: message" lines of a ValidationError.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var verr *ekbom.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v (%T) is not a *ekbom.ValidationError", err, err)
	}
	if !errors.Is(err, ekbom.ErrInvalid) {
		t.Error("error does not match ekbom.ErrInvalid")
	}
	var out []string
	for _, p := range verr.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestBadInput(t *testing.T) {
	b := defaultBase(t)
	for _, tc := range []struct {
		name  string
		input []byte
		want  []string // substrings, one per problem, in order
	}{
		{"not JSON", []byte("age: 60\n"), []string{"not valid JSON"}},
		{"truncated", []byte(`{"resourceType":"Bundle","entry":[`), []string{"unexpected end of JSON input"}},
		{"array", []byte(`[]`), []string{"want an object"}},
		{"a Patient, not a Bundle", []byte(patientJSON), []string{`resourceType: is "Patient"; want Bundle`}},
		{"no resourceType", []byte(`{"entry":[]}`), []string{"resourceType: missing"}},
		{"no Patient", rawBundle(obs("2276-4", 45, "ng/mL", "2026-11-03")), []string{"no Patient resource"}},
		{"empty bundle", []byte(`{"resourceType":"Bundle","type":"collection"}`), []string{"no Patient resource"}},
		{"Patient without birthDate or gender", rawBundle(`{"resourceType":"Patient","id":"x"}`),
			[]string{"entry[0].resource.gender: missing", "entry[0].resource.birthDate: missing"}},
		{"gender other", rawBundle(`{"resourceType":"Patient","id":"x","gender":"other","birthDate":"1970-01-01"}`),
			[]string{`entry[0].resource.gender: is "other"`}},
		{"bad birthDate", rawBundle(`{"resourceType":"Patient","gender":"male","birthDate":"01/02/1970"}`),
			[]string{`entry[0].resource.birthDate: "01/02/1970" is not a FHIR date`}},
		{"birthDate after as_of", rawBundle(`{"resourceType":"Patient","gender":"male","birthDate":"2027-01-01"}`),
			[]string{"entry[0].resource.birthDate: 2027-01-01 is after as_of 2026-11-21"}},
		{"two Patients", rawBundle(patientJSON, strings.Replace(patientJSON, `"p1"`, `"p2"`, 1)),
			[]string{"entry[1].resource: more than one Patient (Patient/p1 at entry[0].resource, Patient/p2 at entry[1].resource)"}},
		{"negative value", bundleOf(obs("2276-4", -4, "ng/mL", "2026-11-03")), []string{"entry[1].resource.valueQuantity.value: -4 is negative"}},
		{"huge value", bundleOf(obs("2276-4", 2e6, "ng/mL", "2026-11-03")), []string{"entry[1].resource.valueQuantity.value: 2e+06 is above 1e+06"}},
		{"overflow", bundleOf(obs("2276-4", "1e999", "ng/mL", "2026-11-03")), []string{"entry[1].resource.valueQuantity.value: 1e999 is not a finite number"}},
		{"NaN as a string", bundleOf(obs("2276-4", `"NaN"`, "ng/mL", "2026-11-03")), []string{`entry[1].resource.valueQuantity.value: want a number, got "NaN"`}},
		{"value as an object", bundleOf(obs("2276-4", `{}`, "ng/mL", "2026-11-03")), []string{`entry[1].resource.valueQuantity.value: want a number, got {}`}},
		{"wrong type", bundleOf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":5}]}}`),
			[]string{"entry[1].resource.code.coding.system: want a string, got a JSON number"}},
		{"bad date", bundleOf(obs("2276-4", 45, "ng/mL", "yesterday")), []string{`entry[1].resource.effectiveDateTime: "yesterday" is not a FHIR dateTime`}},
		{"entry not an object", []byte(`{"resourceType":"Bundle","entry":[{"resource":[1]}]}`), []string{"entry[0].resource: want a JSON object"}},
		{"negative dose", bundleOf(medRequest("r", "active", medText("gabapentin"), dose(-300, "mg", repeat(3, 1, "d")), "")),
			[]string{"entry[1].resource.dosageInstruction[0].doseAndRate[0].doseQuantity.value: -300 is negative"}},
		{"negative frequency", bundleOf(medRequest("r", "active", medText("gabapentin"), dose(300, "mg", repeat(-3, 1, "d")), "")),
			[]string{"entry[1].resource.dosageInstruction[0].timing.repeat.frequency: -3 is negative"}},
		{"absurd infusion", bundleOf(administration("a", "completed", medText("Injectafer"), "2026-09-08", `{"dose":{"value":5e9,"unit":"mg"}}`)),
			[]string{"entry[1].resource.dosage.dose.value: 5e9 is above"}},
		{"absurd answer", bundleOf(`{"resourceType":"QuestionnaireResponse","questionnaire":"https://ekbom.example/fhir/Questionnaire/ekbom-rls","status":"completed",
			"item":[{"linkId":"lifestyle","item":[{"linkId":"sleep_hours","answer":[{"valueDecimal":-7}]}]}]}`),
			[]string{"entry[1].resource.item[0].item[0].answer[0].valueDecimal: -7 is negative"}},
		{"every problem at once", bundleOf(obs("2276-4", -1, "ng/mL", "2026-11-03"), obs("2502-3", -2, "%", "2026-11-03")),
			[]string{"entry[1].resource.valueQuantity.value: -1", "entry[2].resource.valueQuantity.value: -2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := fhir.ReadBundle(tc.input, b, fhir.Options{AsOf: asOf})
			if err == nil {
				t.Fatalf("no error; patient %+v", res.Patient)
			}
			if res != nil {
				t.Error("a result came with the error")
			}
			got := problems(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(tc.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestOptions(t *testing.T) {
	if _, err := fhir.ReadBundle(bundleOf(), nil, fhir.Options{}); err == nil || errors.Is(err, ekbom.ErrInvalid) {
		t.Errorf("zero AsOf: error %v, want a usage error", err)
	}
	res, err := fhir.ReadBundle(bundleOf(), nil, fhir.Options{AsOf: asOf})
	if err != nil || res.Patient == nil {
		t.Fatalf("nil kb: %v", err)
	}
}

func TestSamePatientTwice(t *testing.T) {
	res := read(t, defaultBase(t), patientJSON)
	if res.Patient.ID != "p1" {
		t.Errorf("id = %q", res.Patient.ID)
	}
	wantNote(t, res, "Patient/p1 appears again")
}

func TestUnreadCounted(t *testing.T) {
	res := read(t, defaultBase(t),
		`{"resourceType":"Encounter","id":"e1"}`, `{"resourceType":"Encounter","id":"e2"}`,
		`{"resourceType":"AllergyIntolerance","id":"a"}`, `{"id":"no-type"}`)
	want := map[string]int{"Encounter": 2, "AllergyIntolerance": 1}
	if diff := cmp.Diff(want, res.Unread); diff != "" {
		t.Errorf("unread (-want +got):\n%s", diff)
	}
	wantNote(t, res, "AllergyIntolerance: 1 AllergyIntolerance resource not read")
	wantNote(t, res, "Encounter: 2 Encounter resources not read")
	wantNote(t, res, "no resourceType")
}

func TestLocate(t *testing.T) {
	b := defaultBase(t)
	res := read(t, b, obs("2502-3", 140, "%", "2026-11-03"), cond(snomed, "77386006", ""))
	res.Patient.Sex = ekbom.Male
	err := intake.Normalize(res.Patient, b, intake.Options{})
	if err == nil {
		t.Fatal("TSAT 140 % and a pregnant man passed intake")
	}
	got := problems(t, res.Locate(err))
	want := []string{
		"entry[2].resource: read as pregnancy: ",
		"entry[1].resource: read as labs[0].value: TSAT 140 %",
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no problem starts with %q:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if other := errors.New("x"); res.Locate(other) != other {
		t.Error("Locate changed a non-validation error")
	}
}

func TestMedicationEdgeCases(t *testing.T) {
	b := defaultBase(t)
	for _, tc := range []struct {
		name     string
		resource []string
		want     string // Medication.Name, "" for none
		note     string
	}{
		{"no medication", []string{`{"resourceType":"MedicationStatement","id":"s","status":"active"}`}, "", "no medication"},
		{"dangling reference", []string{medRequest("r", "active", `"medicationReference":{"reference":"Medication/gone"}`, "", "")}, "", `medication "Medication/gone" is not in the input`},
		{"absolute reference", []string{`{"resourceType":"Medication","id":"m9","code":{"text":"Klonopin"}}`,
			medRequest("r", "active", `"medicationReference":{"reference":"https://other.example/fhir/Medication/m9"}`, "", "")}, "clonazepam", ""},
		{"statement dosage as one object", []string{strings.Replace(medStatement("s", "active", medText("gabapentin"), "", ""), `"status"`,
			`"dosage":{"text":"600 mg at bedtime"},"status"`, 1)}, "gabapentin", ""},
		{"empty Medication", []string{medRequest("r", "active", `"medicationReference":{"reference":"#m"}`, "", `,"contained":[{"resourceType":"Medication","id":"m"}]`)},
			"", "no code, text or ingredients"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resource...)
			got := ""
			if len(res.Patient.Medications) > 0 {
				got = res.Patient.Medications[0].Name
			}
			if got != tc.want {
				t.Errorf("name = %q, want %q; notes:\n%s", got, tc.want, notes(res))
			}
			wantNote(t, res, tc.note)
		})
	}
}
