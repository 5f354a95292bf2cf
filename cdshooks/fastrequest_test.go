package cdshooks

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// checkFastRequest checks decodeRequestFast against json.Unmarshal on data:
// when it does not decline, json.Unmarshal must succeed (so data is valid
// JSON) with the very same Request, and no value kept may reach past its
// end into the input.
func checkFastRequest(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	var fast Request
	if !decodeRequestFast(data, &fast) {
		return false
	}
	var slow Request
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("fast path decoded what encoding/json rejects (%v):\n%.3000s", err, data)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast path differs from encoding/json:\nfast %+.2000v\nslow %+.2000v\n%.3000s", fast, slow, data)
	}
	raws := []json.RawMessage{fast.Extension}
	for _, v := range fast.Prefetch {
		raws = append(raws, v)
	}
	for _, v := range raws {
		if cap(v) != len(v) {
			t.Fatalf("a kept value has room to grow into the input: len %d cap %d", len(v), cap(v))
		}
	}
	return true
}

// requestCorpus is every CDS Hooks request of the test data, and every
// object and array inside them as a document of its own.
func requestCorpus(t testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "cdshooks", "*", "*.request.json"))
	var out [][]byte
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if b, err := json.Marshal(x); err == nil {
				out = append(out, b)
			}
			for _, k := range sortedKeys(x) {
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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestFastRequestMatchesEncodingJSON decodes the test requests and many
// mutations of them (wrong types, nulls, keys in other cases, escaped and
// repeated keys, escapes, invalid UTF-8, damaged bytes) both ways.
func TestFastRequestMatchesEncodingJSON(t *testing.T) {
	corpus := requestCorpus(t)
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "cdshooks", "*", "*.request.json"))
	for _, name := range files {
		data, _ := os.ReadFile(name)
		// The valid requests must take the fast path, or it is useless.
		if !checkFastRequest(t, data) && json.Valid(data) && !strings.Contains(name, "feedback") {
			t.Errorf("%s: the fast path declined a test request", name)
		}
	}
	accepted, total := 0, 0
	check := func(data []byte) {
		total++
		if checkFastRequest(t, data) {
			accepted++
		}
	}
	for _, data := range corpus {
		check(data)
	}
	r := rand.New(rand.NewPCG(7, 8))
	leaves := []string{`null`, `12.5`, `-0`, `1e400`, `7`, `"x"`, `"a\"b\\c\/\u00e9\ud83d\ude00\ud800"`, "\"\xff\xfe\"",
		`true`, `false`, `[]`, `{}`, `[null]`, `[{}]`, `{"a":1}`, `"patient-view"`, `[1,"x"]`, `"Patient/1"`, `{"patientId":"1"}`}
	keys := []string{"hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch", "extension",
		"HOOK", "Prefetch", "conText", "ho\\u006fk", "pre\\u0066etch", "h\u00f6ok", "\u017fkip", "patient", "x"}
	for range 1500 {
		data := corpus[r.IntN(len(corpus))]
		var v any
		if json.Unmarshal(data, &v) != nil {
			continue
		}
		for range 8 {
			check([]byte(mutateJSON(r, v, leaves, keys)))
		}
		// Byte-level damage: mostly invalid JSON, which must be declined.
		for range 4 {
			m := []byte(mutateJSON(r, v, leaves, keys))
			switch r.IntN(3) {
			case 0:
				m = m[:r.IntN(len(m))]
			default:
				for range 1 + r.IntN(3) {
					m[r.IntN(len(m))] = "{}[]\",:0-.eE+tfnu \\\x01\x80"[r.IntN(20)]
				}
			}
			check(m)
		}
	}
	for _, s := range []string{
		`{"hook":"patient-view","hook":"order-sign"}`, `{"Hook":"x"}`, `{"hook":"a","HOOK":"b"}`, `{"ho\u006fk":"x"}`,
		`{"hook":null,"hookInstance":null,"fhirServer":null,"fhirAuthorization":null,"context":null,"prefetch":null,"extension":null}`,
		`{"prefetch":{"a":null,"a":{"b":1},"c" : [ 1 , 2 ] ,"d":"x"}}`, `{"prefetch":{}}`, `{"prefetch":[]}`, `{"prefetch":"x"}`,
		`{"prefetch":{"p\u0061tient":{}}}`, `{"prefetch":{"pätient":{}}}`, "{\"prefetch\":{\"p\xfftient\":{}}}",
		`{"hook":"a\u00e9\ud83d\ude00\ud800b"}`, "{\"hook\":\"\xff\xfe\"}", `{"hook":"tab	here"}`, `{"hook":"a\'b"}`,
		`{"context":{"patientId":"1","patientId":"2"}}`, `{"context":{"patientId":7}}`, `{"context":{"PatientId":"1"}}`,
		`{"fhirAuthorization":{"access_token":"t","expires_in":1.5}}`, `{"fhirAuthorization":{"expires_in":"x"}}`,
		`{"fhirAuthorization":{"expires_in":99999999999999999999}}`, `{"fhirAuthorization":[]}`,
		`{"extension":"x"}`, `{"extension":[1,{"a":null}]}`, `{"\u017fkip":1}`, `{"ſkip":1}`, `{"unknown":{"deep":[[[[]]]]}}`,
		` {"hook" : "x" } `, "\t\r\n{}\n", `{}`, `[]`, `"x"`, `null`, `7`, ``, ` `, `{"hook":"x"} x`, `{"hook":"x"}}`,
		`{"x":01}`, `{"x":1.}`, `{"x":-}`, `{"x":1e}`, `{"x":.5}`, `{"x":[1,]}`, `{"x":{"a":1,}}`, `{"x":tru}`, `{"x":nul}`,
		`{"hook":"x",}`, `{"hook" "x"}`, `{"x":"\u12"}`, `{"x":"\u12G4"}`, `{"x":"\q"}`, `{"x":"\`, `{"x":"\u`, `[`, `{`, `"`,
		`{"x":1.5e+3,"y":[1,-0.0,2E-2,true,false,null,"s",{},[]]}`,
		`{"x":` + strings.Repeat("[", maxFastDepth+5) + strings.Repeat("]", maxFastDepth+5) + `}`,
		`{"x":` + strings.Repeat(`{"a":`, 50) + `1` + strings.Repeat("}", 50) + `}`,
	} {
		check([]byte(s))
	}
	t.Logf("%d of %d inputs took the fast path", accepted, total)
}

// mutateJSON writes v with random changes, as JSON text: keys dropped,
// repeated or replaced by one of keys (JSON-escaped already), values
// replaced by one of leaves.
func mutateJSON(r *rand.Rand, v any, leaves, keys []string) string {
	var b strings.Builder
	var write func(v any)
	write = func(v any) {
		if r.IntN(40) == 0 {
			b.WriteString(leaves[r.IntN(len(leaves))])
			return
		}
		switch x := v.(type) {
		case map[string]any:
			b.WriteByte('{')
			first := true
			for _, k := range sortedKeys(x) {
				if r.IntN(30) == 0 {
					continue
				}
				reps := 1
				if r.IntN(30) == 0 {
					reps = 2
				}
				for range reps {
					if !first {
						b.WriteByte(',')
					}
					first = false
					if r.IntN(25) == 0 {
						b.WriteString(`"` + keys[r.IntN(len(keys))] + `"`)
					} else {
						kb, _ := json.Marshal(k)
						b.Write(kb)
					}
					b.WriteString(": ")
					write(x[k])
				}
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, y := range x {
				if i > 0 {
					b.WriteByte(',')
				}
				write(y)
			}
			b.WriteByte(']')
		default:
			vb, _ := json.Marshal(x)
			b.Write(vb)
		}
	}
	write(v)
	return b.String()
}

// TestDecodeRequestKeepsSlices checks the prefetch values of a decoded
// request are the bytes of the body, and an append to one leaves the body
// alone.
func TestDecodeRequestKeepsSlices(t *testing.T) {
	body := readCase(t, "patient-view/realistic-60")
	orig := bytes.Clone(body)
	req, err := DecodeRequest(body, service(t, PatientViewID))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.Prefetch {
		if !bytes.Contains(body, v) {
			t.Errorf("prefetch %s is not in the body", k)
		}
		_ = append(v, "XXXXXXXX"...)
	}
	if !bytes.Equal(body, orig) {
		t.Error("an append to a prefetch value changed the body")
	}
}

// FuzzDecodeRequestFast holds the fast request decoder to json.Unmarshal
// on arbitrary input (go test ./cdshooks -run '^$' -fuzz FuzzDecodeRequestFast).
func FuzzDecodeRequestFast(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "cdshooks", "*", "*.request.json"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{"Hook":"x"}`, `{"prefetch":{"a":null,"a":1}}`, `{"hook":"\u00e9\ud800"}`, `{"x":[1,-0.0,2E-2]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastRequest(t, data)
	})
}
