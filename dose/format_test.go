package dose

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestFormatMgMatchesStrconv checks the fast mg formatting against the
// strconv form it replaces.
func TestFormatMgMatchesStrconv(t *testing.T) {
	want := func(v float64) string { return strconv.FormatFloat(round6(v), 'f', -1, 64) }
	cases := []float64{0, math.Copysign(0, -1), 1e-7, -1e-7, 5e-7, 0.125, 0.375, 1.5, 600, 0.1 + 0.2,
		999999999.9999994, 1e9, -1e9, 1e9 + 1, 123456789.123456, 1e300, math.Inf(1), math.Inf(-1), math.NaN()}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		cases = append(cases, (r.Float64()-0.5)*math.Pow(10, float64(r.IntN(17)-7)))
		cases = append(cases, float64(r.IntN(100000))/64)
	}
	for _, v := range cases {
		if got, w := formatMg(v), want(v); got != w {
			t.Fatalf("formatMg(%v) = %q, want %q", v, got, w)
		}
	}
}
