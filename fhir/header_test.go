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
