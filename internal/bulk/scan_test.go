package bulk

import (
	"testing"
)

func TestScanHeader(t *testing.T) {
	for _, tc := range []struct {
		line string
		want header
		err  bool
	}{
		{line: `{"resourceType":"Patient","id":"p1","gender":"female"}`, want: header{typ: "Patient", id: "p1"}},
		{line: ` { "id" : "o1" , "resourceType" : "Observation", "subject": {"display": "x", "reference": "Patient/p1"}} `,
			want: header{typ: "Observation", id: "o1", ref: "Patient/p1"}},
		{line: `{"resourceType":"MedicationRequest","id":"m","subject":{"reference":"Patient/p"},"medicationReference":{"reference":"Medication/x"}}`,
			want: header{typ: "MedicationRequest", id: "m", ref: "Patient/p", medRef: "Medication/x"}},
		{line: `{"resourceType":"Condition","patient":{"reference":"Patient/q"},"subject":{"reference":""}}`,
			want: header{typ: "Condition", ref: "Patient/q"}},
		{line: `{"resourceType":"Observation","id":"a","id":"b"}`, want: header{typ: "Observation", id: "b"}}, // the last wins, as in encoding/json
		{line: `{"resourceType":"Observation","ID":"upper"}`, want: header{typ: "Observation", id: "upper"}},  // keys match without case
		{line: `{"resourceType":"Obs\u0065rvation","contained":[{"resourceType":"Specimen","id":"s1"}],"id":"x\"y"}`,
			want: header{typ: "Observation", id: `x"y`}},
		{line: `{"resourceType":"Observation","subject":"Patient/p"}`, want: header{typ: "Observation"}},
		{line: `{"resourceType":7,"id":null}`, want: header{}},
		{line: `{}`, want: header{}},
		{line: `[1,2]`, err: true},
		{line: `"Patient"`, err: true},
		{line: `{"resourceType":"Patient"`, err: true},
		{line: `{"resourceType":"Patient"} {"resourceType":"Patient"}`, err: true},
		{line: `not json`, err: true},
	} {
		got, err := scanHeader([]byte(tc.line))
		if (err != nil) != tc.err {
			t.Errorf("%s: error %v, want error %v", tc.line, err, tc.err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func TestPatientOf(t *testing.T) {
	for ref, want := range map[string]string{
		"Patient/p1": "p1", "https://ehr.example/fhir/Patient/p1": "p1", "Patient/p1/_history/3": "p1",
		"Group/g": "", "urn:uuid:1234": "", "NotPatient/x": "", "Patient/": "", "": "",
	} {
		got, ok := patientOf(ref)
		if got != want || ok != (want != "") {
			t.Errorf("patientOf(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
}

// FuzzScanHeader checks that the quick scan and encoding/json agree on
// every input the quick scan accepts.
func FuzzScanHeader(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","id":"p1"}`,
		`{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/p"},"valueQuantity":{"value":1.5,"unit":"mg"}}`,
		`{"resourceType":"MedicationRequest","medicationReference":{"reference":"Medication/m"},"patient":{"reference":"Patient/x"}}`,
		`{"a":[{"b":"}"},["]"]],"resourceType":"X"}`,
		`{"resourceType":"X","Subject":{"reference":"Patient/y"}}`,
	} {
		f.Add([]byte(s))
	}
	// The target checks only the lines the quick scan answers for; it
	// must answer for ordinary lines, or the property holds vacuously.
	for s, want := range map[string]header{
		`{"resourceType":"Patient","id":"p1"}`: {typ: "Patient", id: "p1"},
		`{"resourceType":"MedicationRequest","medicationReference":{"reference":"Medication/m"},"patient":{"reference":"Patient/x"}}`: {typ: "MedicationRequest", ref: "Patient/x", medRef: "Medication/m"},
	} {
		if h, ok := peekHeader([]byte(s)); !ok || h != want {
			f.Fatalf("peekHeader(%s) = %+v, %v; want %+v, true", s, h, ok, want)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		quick, ok := peekHeader(line)
		if !ok {
			return
		}
		slow, err := decodeHeader(line)
		if err != nil {
			// The quick scan does not validate values it skips; pass 2
			// finds such lines when the Bundle does not parse.
			return
		}
		if quick != slow {
			t.Errorf("%q: quick scan %+v, encoding/json %+v", line, quick, slow)
		}
	})
}
