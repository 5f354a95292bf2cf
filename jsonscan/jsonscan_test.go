package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

var validCases = []string{
	`0`, `-0`, `1`, `-12.5e+3`, `1E-2`, `-0.0e0`, `123456789`,
	`true`, `false`, `null`,
	`""`, `"x"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`, `"\ud800"`, "\"\xff\xfe\"", "\"\x7f\"", `"é"`,
	`[]`, `{}`, `[1,"a",true,null,{},[]]`, `{"a":{"b":[1,{"c":null}]}}`,
	" \t\n\r{ \"a\" : [ 1 , { } ] } \n",
	`{"a":` + strings.Repeat(" ", 100) + `1}`,
	`{"a":1,"a":2}`,
}

var invalidCases = []string{
	``, ` `, `-`, `01`, `-01`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x1`, `1 2`,
	`tru`, `nul`, `fals`, `True`, `nulll`,
	`"`, `"\"`, `"\q"`, `"\'"`, `"\u12"`, `"\u123`, `"\u1234`, `"\u00G9"`, `"\u00e"`,
	"\"tab\there\"", "\"\x00\"", "\"\x1f\"",
	`[`, `]`, `[1,]`, `[,1]`, `[1 2]`, `[[]`, `[1]]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a" 1}`,
	`{1:2}`, `{"a":1}}`, `{'a':1}`, `[1] x`, "[1]\x00", "\v1",
}

func TestValid(t *testing.T) {
	for _, s := range validCases {
		if !json.Valid([]byte(s)) {
			t.Fatalf("test case %q is not valid JSON", s)
		}
		if !Valid([]byte(s)) {
			t.Errorf("Valid(%q) = false", s)
		}
	}
	for _, s := range invalidCases {
		if json.Valid([]byte(s)) {
			t.Fatalf("test case %q is valid JSON", s)
		}
		if Valid([]byte(s)) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
}

// nested returns a value nested n containers deep.
func nested(n int) []byte {
	return []byte(strings.Repeat(`[{"a":`, n/2) + strings.Repeat("[", n%2) + "1" + strings.Repeat("]", n%2) + strings.Repeat("}]", n/2))
}

func TestDepthLimit(t *testing.T) {
	if !Valid(nested(DefaultMaxDepth)) {
		t.Errorf("Valid refuses nesting %d deep", DefaultMaxDepth)
	}
	if Valid(nested(DefaultMaxDepth + 1)) {
		t.Errorf("Valid accepts nesting %d deep", DefaultMaxDepth+1)
	}
	for _, max := range []int{1, 2, 5, 500} {
		for depth := max - 1; depth <= max+1; depth++ {
			s := Scanner{Data: nested(depth), MaxDepth: max}
			got := s.Skip()
			if want := depth <= max; got != want {
				t.Errorf("MaxDepth %d, depth %d: Skip = %v", max, depth, got)
			}
			if got && (s.Depth != 0 || s.I != len(s.Data)) {
				t.Errorf("MaxDepth %d, depth %d: after Skip I = %d of %d, Depth = %d", max, depth, s.I, len(s.Data), s.Depth)
			}
		}
	}
	// MaxDepth 0 is the default.
	s := Scanner{Data: nested(DefaultMaxDepth + 1)}
	if s.Skip() {
		t.Errorf("zero MaxDepth accepts nesting %d deep", DefaultMaxDepth+1)
	}
	// The depth already entered counts.
	s = Scanner{Data: []byte(`[[1]]`), Depth: 3, MaxDepth: 4}
	if s.Skip() {
		t.Error("Skip ignores the depth already entered")
	}
}

// TestSkipStopsAfterValue checks Skip moves exactly past one value.
func TestSkipStopsAfterValue(t *testing.T) {
	for _, c := range []struct{ in, rest string }{
		{`12,3`, `,3`}, {`-0.5e2]`, `]`}, {`0123`, `123`}, {`"a\"b" x`, ` x`}, {`true}`, `}`},
		{`{"a":[1,2]} ,`, ` ,`}, {`[]]`, `]`}, {`null null`, ` null`},
	} {
		s := Scanner{Data: []byte(c.in)}
		if !s.Skip() {
			t.Errorf("Skip(%q) = false", c.in)
			continue
		}
		if rest := c.in[s.I:]; rest != c.rest {
			t.Errorf("Skip(%q) left %q, want %q", c.in, rest, c.rest)
		}
	}
}

func TestString(t *testing.T) {
	for _, c := range []struct {
		in    string
		flags int
		ok    bool
	}{
		{`"abc"`, 0, true},
		{`"a\nb"`, Escape, true},
		{`"\u00e9"`, Escape, true},
		{`"é"`, NonASCII, true},
		{"\"\xff\"", NonASCII, true},
		{`"é\t"`, Escape | NonASCII, true},
		{`"a`, 0, false},
		{`"a\x"`, 0, false},
		{"\"a\x01\"", 0, false},
		{`"\u12`, 0, false},
	} {
		s := Scanner{Data: []byte(c.in + " ")}
		flags, ok := s.String()
		if ok != c.ok || flags != c.flags {
			t.Errorf("String(%q) = %d, %v; want %d, %v", c.in, flags, ok, c.flags, c.ok)
		}
		if ok && s.I != len(c.in) {
			t.Errorf("String(%q) stopped at %d", c.in, s.I)
		}
		s = Scanner{Data: []byte(c.in + " ")}
		if ok := s.SkipString(); ok != c.ok || ok && s.I != len(c.in) {
			t.Errorf("SkipString(%q) = %v at %d", c.in, ok, s.I)
		}
	}
}

func TestStringEnd(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int
	}{
		{`"abc" x`, 5}, {`"a\"b"`, 6}, {`"a\\"b"`, 5}, {`"a\\\"b"`, 8}, {`"\\\\"`, 6}, {`"abc`, -1}, {`"a\"`, -1}, {`""`, 2},
	} {
		s := Scanner{Data: []byte(c.in)}
		if end := s.StringEnd(); end != c.end {
			t.Errorf("StringEnd(%q) = %d, want %d", c.in, end, c.end)
		}
	}
}

func TestSpaceAndLiteral(t *testing.T) {
	in := " \t\r\n" + strings.Repeat(" ", 19) + "\tnull\v"
	s := Scanner{Data: []byte(in)}
	s.Space()
	if s.At() != 'n' {
		t.Fatalf("Space stopped at %d (%q)", s.I, in[s.I:])
	}
	if s.Literal("true") || s.I != len(in)-5 {
		t.Fatal("Literal accepted the wrong literal or moved")
	}
	if !s.Literal("null") || s.At() != '\v' {
		t.Fatal("Literal(null) failed")
	}
	s.Space()
	if s.At() != '\v' {
		t.Error("Space moved past a vertical tab")
	}
	s.I++
	if s.At() != 0 {
		t.Error("At at the end is not 0")
	}
	if s.Literal("null") {
		t.Error("Literal at the end")
	}
}

// FuzzValid holds Valid to json.Valid: it never accepts invalid JSON and,
// short of the depth limit, refuses nothing valid
// (go test ./jsonscan -run '^$' -fuzz FuzzValid).
func FuzzValid(f *testing.F) {
	for _, s := range append(validCases, invalidCases...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want := Valid(data), json.Valid(data)
		if got && !want {
			t.Fatalf("Valid accepts invalid JSON %q", data)
		}
		if !got && want && len(data) <= DefaultMaxDepth {
			t.Fatalf("Valid refuses valid JSON %q", data)
		}
	})
}
