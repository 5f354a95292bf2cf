package engine

import (
	"fmt"

	"ekbom/kb"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"ekbom"
)

// TestNumMatchesStrconv checks the fast number formatting against the
// strconv form it replaces, on edge cases and random values.
func TestNumMatchesStrconv(t *testing.T) {
	want := func(v float64) string { return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) }
	cases := []float64{0, math.Copysign(0, -1), -0.0001, 0.0004, 0.0005, 1, -1, 0.125, 0.375, 1.5, 600, 2400,
		12.3456, -12.3456, 0.1 + 0.2, 999999999999.999, 1e12, 1e13, -1e13, 1e300, math.Inf(1), math.Inf(-1), math.NaN()}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		cases = append(cases, (r.Float64()-0.5)*math.Pow(10, float64(r.IntN(16)-3)))
		cases = append(cases, float64(r.IntN(20000))/8)
	}
	for _, v := range cases {
		if got, w := num(v), want(v); got != w {
			t.Fatalf("num(%v) = %q, want %q", v, got, w)
		}
	}
}

// TestDateTextMatchesString checks the fast date formatting against
// ekbom.Date.String.
func TestDateTextMatchesString(t *testing.T) {
	dates := []ekbom.Date{{}, ekbom.DateOf(1, 1, 1), ekbom.DateOf(999, 12, 31), ekbom.DateOf(9999, 12, 31),
		ekbom.DateOf(10000, 1, 1), ekbom.DateOf(-5, 3, 4)}
	d := ekbom.DateOf(1900, 1, 1)
	for range 60000 {
		dates = append(dates, d)
		d = d.AddDays(3)
	}
	for _, d := range dates {
		if got, want := dateText(d), d.String(); got != want {
			t.Fatalf("dateText(%v) = %q, want %q", d.Time().Format(time.RFC3339), got, want)
		}
	}
}

// TestTmplMatchesRender checks precompiled rule texts against kb.Render,
// errors included.
func TestTmplMatchesRender(t *testing.T) {
	texts := []string{"", "plain", "{", "}", "{}", "{a}", "x{a}y{b}z", "{a{b}", "x}{y", "{a}{", "{a}{b}{c}{d}{e}{f}{g}{h}{i}", "{missing} and {a}"}
	b, err := kb.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range b.RuleList {
		texts = append(texts, r.Text, r.PatientText)
	}
	varsList := []map[string]string{nil, {}, {"a": "A", "b": "", "": "empty", "a{b": "AB"}}
	all := map[string]string{}
	for _, text := range texts {
		c := compileTmpl(text)
		for _, p := range c.parts {
			if p.hasKey {
				all[p.key] = "<" + p.key + ">"
			}
		}
	}
	varsList = append(varsList, all)
	for _, text := range texts {
		c := compileTmpl(text)
		for _, vars := range varsList {
			var tv textVars
			for k, v := range vars {
				tv = append(tv, textVar{k, v})
			}
			got, gerr := c.render(tv)
			want, werr := kb.Render(text, vars)
			if got != want || fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Fatalf("%q with %v: got %q, %v; want %q, %v", text, vars, got, gerr, want, werr)
			}
		}
	}
}
