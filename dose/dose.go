// Package dose holds pure dosing calculators for the ekbom engine: creatinine
// clearance, renal dose bands, titration and taper calendars, IV iron
// estimates, morphine milligram equivalents, IRLS scoring and
// pramipexole equivalents.
//
// The clinical numbers (dose bands, conversion factors, step sizes) are not
// written here: they come in as parameters from the knowledge base (package
// kb). Only true formulas, such as Cockcroft–Gault, are code. Nothing in this
// package does I/O or reads the clock; every function is a pure function of
// its arguments.
//
// Invalid input is reported as an *ekbom.ValidationError, which matches
// ekbom.ErrInvalid with errors.Is and lists every problem found at once.
package dose

import (
	"math"
	"strconv"

	"ekbom"
)

// MaxScheduleItems is the longest titration or taper calendar the calculators
// build. Longer calendars almost always mean a unit mistake (for example a
// step in micrograms), so they are reported as errors.
const MaxScheduleItems = 200

// eps is the tolerance used to absorb floating-point drift in mg amounts.
const eps = 1e-6

// round6 rounds x to the nearest 1e-6, which hides floating-point drift such
// as 0.1+0.2 = 0.30000000000000004.
func round6(x float64) float64 {
	if math.Abs(x) > 1e9 || !finite(x) {
		return x // already coarser than 1e-6; x*1e6 could overflow
	}
	r := math.Round(x*1e6) / 1e6
	if r == 0 {
		return 0 // no negative zero
	}
	return r
}

// formatMg writes an mg amount in the shortest form: 600, 0.375, 1.5.
func formatMg(mg float64) string {
	return string(appendMg(nil, mg))
}

// appendMg appends formatMg(mg) to dst. It is
// strconv.AppendFloat(dst, round6(mg), 'f', -1, 64) with a fast path for the
// usual amounts.
func appendMg(dst []byte, mg float64) []byte {
	if math.Abs(mg) <= 1e9 {
		// round6(mg) = n/1e6 with at most 15 significant digits, so its
		// shortest round-trip form is exactly that decimal.
		if n := math.Round(mg * 1e6); n != 0 && math.Abs(n) < 1e15 {
			return appendScaled(dst, int64(n), 6)
		}
	}
	return strconv.AppendFloat(dst, round6(mg), 'f', -1, 64)
}

// appendScaled appends n / 10^places as a decimal without trailing zeros.
func appendScaled(dst []byte, n int64, places int) []byte {
	var buf [24]byte
	neg := n < 0
	if neg {
		n = -n
	}
	i := len(buf)
	frac := false
	for range places {
		d := byte(n % 10)
		n /= 10
		if d != 0 || frac {
			frac = true
			i--
			buf[i] = '0' + d
		}
	}
	if frac {
		i--
		buf[i] = '.'
	}
	for {
		i--
		buf[i] = '0' + byte(n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return append(dst, buf[i:]...)
}

// positive reports whether x is a finite number above zero.
func positive(x float64) bool {
	return x > 0 && !math.IsInf(x, 1)
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool {
	return !math.IsNaN(x) && !math.IsInf(x, 0)
}

// requirePositive records a problem at path unless x is finite and above zero.
func requirePositive(v *ekbom.ValidationError, path string, x float64) {
	if !positive(x) {
		v.Add(path, "must be a positive number, got %v", x)
	}
}
