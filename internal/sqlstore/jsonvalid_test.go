package sqlstore

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkValid compares fastValid and validJSON with json.Valid on data.
func checkValid(t *testing.T, data []byte) {
	t.Helper()
	want := json.Valid(data)
	if fastValid(data) && !want {
		t.Fatalf("fastValid accepts what json.Valid refuses:\n%.2000q", data)
	}
	if got := validJSON(data); got != want {
		t.Fatalf("validJSON = %v, json.Valid = %v:\n%.2000q", got, want, data)
	}
}

// TestValidJSONMatchesEncodingJSON checks the plans of the vignettes,
// thousands of damaged copies of them and hand-made edge cases.
func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "vignettes", "*", "plan.golden.json"))
	if len(files) == 0 {
		t.Fatal("no plans found")
	}
	var corpus [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !fastValid(data) {
			t.Errorf("%s: fastValid refuses a valid plan", name)
		}
		corpus = append(corpus, data)
	}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "{}[]\",:0123456789-.eE+tfnulrsa \t\n\r\\/bu\x00\x01\x1f\x7f\x80\xff"
	for range 5000 {
		m := []byte(string(corpus[r.IntN(len(corpus))]))
		switch r.IntN(4) {
		case 0:
			m = m[:r.IntN(len(m))]
		case 1:
			start := r.IntN(len(m))
			m = m[start : start+r.IntN(min(len(m)-start, 200)+1)]
		default:
			for range 1 + r.IntN(2) {
				m[r.IntN(len(m))] = alphabet[r.IntN(len(alphabet))]
			}
		}
		checkValid(t, m)
	}
	for _, s := range []string{``, ` `, `0`, `-0`, `-`, `01`, `1.`, `.5`, `1e`, `1e+`, `1E-2`, `-0.0e0`, `1.5e+3`,
		`true`, `tru`, `null`, `nul`, `false`, `"x"`, `"`, `"\"`, `"\\"`, `"\u00e9"`, `"\u00G9"`, `"\u12"`, `"\q"`, `"\'"`,
		"\"tab\there\"", "\"\x7f\"", "\"\xff\xfe\"", `"\ud800"`, `[]`, `[1,]`, `[,1]`, `[1 2]`, `{}`, `{"a"}`, `{"a":}`,
		`{"a":1,}`, `{"a" 1}`, `{1:2}`, `{"a":1}}`, `[[]`, ` {"a" : [ 1 , { } ] } `, "\t\n\r[1]\n", `[1] x`, `[1]]`,
		strings.Repeat("[", maxValidDepth) + strings.Repeat("]", maxValidDepth),
		strings.Repeat("[", maxValidDepth+1) + strings.Repeat("]", maxValidDepth+1),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		`{"a":` + strings.Repeat(" ", 100) + `1}`,
	} {
		checkValid(t, []byte(s))
	}
}

// FuzzValidJSON holds validJSON to json.Valid
// (go test ./internal/sqlstore -run '^$' -fuzz FuzzValidJSON).
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,-0.5e3,true,null,"x\u00e9"]}`, `[`, `"\ud800"`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkValid(t, data) })
}

// BenchmarkValidJSON checks a plan of about the size patient-view stores.
func BenchmarkValidJSON(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vignettes", "38-very-severe-augmentation-opioid", "plan.golden.json"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		valid func([]byte) bool
	}{{"encoding-json", json.Valid}, {"validJSON", validJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if !bc.valid(data) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
