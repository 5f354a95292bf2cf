package fhir

import (
	"encoding/json"
	"testing"
)

func FuzzPeekHeader(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Observation","id":"a","code":{"id":"x","resourceType":"no"},"v":[1,{"id":"y"},"]"]}`,
		`{"id":"b","resourceType":"Patient","id":"c"}`,
		`{"ResourceType":"Patient"}`,
		`{"resourceType":"Pat\u0069ent"}`,
		`{"resourceType":5}`,
		`{"resourceType":null,"id":"x"}`,
		`{"a":"\"}","resourceType":"Bundle"}`,
		`{"a":-1.5e3,"b":true,"c":null,"resourceType":"X"}`,
		` { "resourceType" : "X" } `,
		`{}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	// The target checks only the inputs peekHeader answers for; it must
	// answer for plain objects, or the property holds vacuously.
	for s, want := range map[string]header{
		`{"resourceType":"Patient","id":"c"}`:                      {ResourceType: "Patient", ID: "c"},
		` { "id" : "b", "resourceType" : "Bundle", "type": "x" } `: {ResourceType: "Bundle", ID: "b"},
	} {
		if h, ok := peekHeader([]byte(s)); !ok || h != want {
			f.Fatalf("peekHeader(%s) = %+v, %v; want %+v, true", s, h, ok, want)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // readHeader is only given validated JSON
		}
		h, ok := peekHeader(raw)
		if !ok {
			return
		}
		var want header
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("peekHeader read %+v but encoding/json fails: %v", h, err)
		}
		if h != want {
			t.Fatalf("peekHeader %+v, encoding/json %+v", h, want)
		}
	})
}
