package fhir

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// fastTargets returns a new zero value of each type the reader decodes.
func fastTargets() []any {
	return []any{
		new(bundle), new(header), new(patient), new(observation), new(specimen), new(condition),
		new(medicationUse), new([]dosage), new(dosage), new(administrationDosage), new(medication),
		new(questionnaireResponse), new(codeableConcept), new([]codeableConcept),
	}
}

// checkFast checks decodeFast against encoding/json on data for every
// target type: when it does not decline, json.Unmarshal must succeed (so
// data is valid JSON) with the very same value.
func checkFast(t *testing.T, data []byte) {
	t.Helper()
	for _, target := range fastTargets() {
		typ := reflect.TypeOf(target).Elem()
		fast := reflect.New(typ)
		if !decodeFast(data, fast.Interface()) {
			continue
		}
		slow := reflect.New(typ)
		if err := json.Unmarshal(data, slow.Interface()); err != nil {
			t.Fatalf("%v: fast path decoded what encoding/json rejects (%v):\n%s", typ, err, data)
		}
		if bu, ok := fast.Interface().(*bundle); ok {
			// The header read on the way must be readHeader's; encoding/json
			// leaves it for later.
			for i := range bu.Entry {
				rr := &bu.Entry[i].Resource
				if rr.hdrOK {
					if h, err := readHeader(rr.raw); err != nil || h != rr.hdr {
						t.Fatalf("entry %d: header %+v, readHeader %+v, %v\n%s", i, rr.hdr, h, err, data)
					}
				}
				rr.hdr, rr.hdrOK = header{}, false
			}
		}
		if !reflect.DeepEqual(fast.Interface(), slow.Interface()) {
			t.Fatalf("%v: fast path differs from encoding/json:\nfast %.2000v\nslow %.2000v\n%.2000s", typ, fast.Elem(), slow.Elem(), data)
		}
	}
}

// fastCorpus is every resource and bundle of the test data.
func fastCorpus(t testing.TB) [][]byte {
	files, _ := filepath.Glob("../testdata/fhir/*.json")
	files = append(files, "testdata/bundle-60.json")
	reqs, _ := filepath.Glob("../testdata/cdshooks/*/*.request.json")
	files = append(files, reqs...)
	var out [][]byte
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if b, err := json.Marshal(x); err == nil {
				out = append(out, b)
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k])
			}
		case []any:
			if b, err := json.Marshal(x); err == nil {
				out = append(out, b)
			}
			for _, y := range x {
				walk(y)
			}
		}
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
		var v any
		if json.Unmarshal(data, &v) == nil {
			walk(v)
		}
	}
	return out
}

// TestFastDecodeMatchesEncodingJSON decodes the test data and many mutations
// of it (wrong types, nulls, keys in other cases, repeated keys, escapes,
// invalid UTF-8) both ways.
func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	corpus := fastCorpus(t)
	for _, data := range corpus {
		checkFast(t, data)
	}
	r := rand.New(rand.NewPCG(5, 6))
	leaves := []string{`null`, `12.5`, `-0`, `1e400`, `"x"`, `"a\"b\\c\/\u00e9\ud83d\ude00\ud800"`, "\"\xff\xfe\"",
		`true`, `false`, `[]`, `{}`, `[null]`, `[{}]`, `{"a":1}`, `"2026-11-01"`, `[1,"x"]`}
	for range 1000 {
		data := corpus[r.IntN(len(corpus))]
		var v any
		if json.Unmarshal(data, &v) != nil {
			continue
		}
		for range 8 {
			m := mutateJSON(r, v, leaves)
			checkFast(t, []byte(m))
		}
		// Byte-level damage: mostly invalid JSON, which must be declined.
		for range 4 {
			m := []byte(mutateJSON(r, v, leaves))
			switch r.IntN(3) {
			case 0:
				m = m[:r.IntN(len(m))]
			default:
				for range 1 + r.IntN(3) {
					m[r.IntN(len(m))] = "{}[]\",:0-.eE+tfnu \\\x01\x80"[r.IntN(20)]
				}
			}
			checkFast(t, m)
		}
	}
	for _, s := range []string{`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient"}}],"entry":[]}`,
		`{"code":{"coding":[{"code":"a"}]},"code":{"text":"b"}}`, `{"Code":{"text":"b"}}`, `{"code":{"text":"b"},"CODE":null}`,
		`{"ſtatus":"final"}`, `{"status":"final","\u0073tatus":"amended"}`, `{"st\u0061tus":"x"}`, ` {"status" : "x" } `,
		`{"item":[{"linkId":"a","item":[{"linkId":"b","answer":[{"valueDecimal":1.50,"valueInteger":"x"}]}]}]}`,
		`{"contained":[null,{"resourceType":"Specimen"}],"component":null,"valueQuantity":{"value":null}}`,
		`{"status":"a\'b"}`, `{"status":"tab	here"}`, `{"x":01}`, `{"x":1.}`, `{"x":-}`, `{"x":1e}`, `{"x":.5}`, `{"x":[1,]}`,
		`{"x":{"a":1,}}`, `{"x":tru}`, `{"x":nul}`, `{"status":"x",}`, `{"status" "x"}`, `{"x":"\u12"}`, `{"x":"\u12G4"}`,
		`{"x":"\q"}`, `{"status":"x"} x`, `[`, `{`, `"`, `{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"valueQuantity":{"value":1.5e+3},"component":[1,-0.0,2E-2,true,false,null,"s",{},[]]}`} {
		checkFast(t, []byte(s))
	}
}

// mutateJSON writes v with random changes, as JSON text.
func mutateJSON(r *rand.Rand, v any, leaves []string) string {
	var b strings.Builder
	var write func(v any, depth int)
	write = func(v any, depth int) {
		if r.IntN(40) == 0 {
			b.WriteString(leaves[r.IntN(len(leaves))])
			return
		}
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteByte('{')
			first := true
			for _, k := range keys {
				if r.IntN(30) == 0 {
					continue
				}
				reps := 1
				if r.IntN(40) == 0 {
					reps = 2
				}
				for range reps {
					if !first {
						b.WriteByte(',')
					}
					first = false
					key := k
					switch r.IntN(60) {
					case 0:
						key = strings.ToUpper(k)
					case 1:
						key = strings.ToUpper(k[:1]) + k[1:]
					case 2:
						key = k + "x"
					}
					kb, _ := json.Marshal(key)
					b.Write(kb)
					b.WriteString(": ")
					write(x[k], depth+1)
				}
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, y := range x {
				if i > 0 {
					b.WriteString(" , ")
				}
				write(y, depth+1)
			}
			b.WriteByte(']')
		default:
			js, _ := json.Marshal(x)
			if s, ok := x.(string); ok && r.IntN(20) == 0 {
				js = []byte(fmt.Sprintf("%q", s+"\u00e9"))
			}
			b.Write(js)
		}
	}
	write(v, 0)
	return b.String()
}

// FuzzFastDecode compares the fast path with encoding/json on any input.
func FuzzFastDecode(f *testing.F) {
	for _, data := range fastCorpus(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast(t, data)
	})
}
