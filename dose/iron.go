package dose

import "math"

// FerritinRise estimates the serum ferritin rise, in ng/mL, from doseMg mg of
// IV iron, given the expected rise per 100 mg as a range (ng/mL per 100 mg,
// from the knowledge base). It is for display only: the rule behind the rise
// is clinical experience, not a validated model. The bounds may be given in
// either order; low ≤ high in the result. A dose that is not positive gives
// 0, 0.
func FerritinRise(doseMg, risePer100MgLow, risePer100MgHigh float64) (low, high float64) {
	if !positive(doseMg) {
		return 0, 0
	}
	lo, hi := ordered(risePer100MgLow, risePer100MgHigh)
	return round6(doseMg / 100 * lo), round6(doseMg / 100 * hi)
}

// IronDoseForTarget estimates the IV iron, in mg, needed to raise serum
// ferritin from currentFerritin to targetFerritin (both ng/mL), given the
// expected rise per 100 mg as a range (ng/mL per 100 mg). lowMg uses the
// higher rise (less iron needed) and highMg the lower rise; both are rounded
// up to the next 100 mg. It is for display only, like FerritinRise.
//
// It returns 0, 0 when current is at or above target, and also when no
// estimate is possible because an input is NaN or a rise is not positive.
func IronDoseForTarget(currentFerritin, targetFerritin, risePer100MgLow, risePer100MgHigh float64) (lowMg, highMg float64) {
	gap := targetFerritin - currentFerritin
	lo, hi := ordered(risePer100MgLow, risePer100MgHigh)
	if !positive(gap) || !positive(lo) || !positive(hi) {
		return 0, 0
	}
	return ceil100(gap / hi * 100), ceil100(gap / lo * 100)
}

// ordered returns a and b with the smaller first.
func ordered(a, b float64) (float64, float64) {
	if b < a {
		return b, a
	}
	return a, b
}

// ceil100 rounds mg up to the next multiple of 100, ignoring float drift
// (300.00000000004 stays 300).
func ceil100(mg float64) float64 {
	return math.Ceil(round6(mg/100)) * 100
}
