package cdshooks

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestOneLine holds oneLine to strings.Join(strings.Fields(s), " ").
func TestOneLine(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := oneLine(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("oneLine(%q) = %q, want %q", s, got, want)
		}
	}
	for _, s := range []string{"", " ", "a", " a", "a ", "a b", "a  b", "a\tb", "a\nb", "a\u00a0b", "a\u0085b", "a\u2003b",
		"a\u3000", "\xff b", "a \xff", "Ferritin 45 ng/mL: start oral iron.", "é è", "a\vb", "a\fb", "a\rb"} {
		check(s)
	}
	pieces := []string{"a", "bc", "é", " ", " ", "\t", "\n", "\u00a0", "\u2028", "\xff", "\xe2\x80", "x.", ":"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		check(b.String())
	}
}
