package dose

import (
	"fmt"
	"math"

	"ekbom"
)

// CockcroftGault returns the estimated creatinine clearance in mL/min:
//
//	CrCl = (140 − age) × weight / (72 × serum creatinine), × 0.85 if female
//
// ageYears is in years, weightKg in kg (actual body weight) and
// creatinineMgDL is serum creatinine in mg/dL. Ages outside 18–120 years,
// weights outside (0, 400] kg and creatinine outside (0, 30] mg/dL are
// errors; every bad argument is reported.
func CockcroftGault(ageYears int, weightKg, creatinineMgDL float64, female bool) (float64, error) {
	var v ekbom.ValidationError
	if ageYears < 18 || ageYears > 120 {
		v.Add("age", "%d years is outside 18–120", ageYears)
	}
	if !(weightKg > 0 && weightKg <= 400) {
		v.Add("weight", "%v kg is outside 0–400 (zero excluded)", weightKg)
	}
	if !(creatinineMgDL > 0 && creatinineMgDL <= 30) {
		v.Add("creatinine", "%v mg/dL is outside 0–30 (zero excluded)", creatinineMgDL)
	}
	if err := v.Err(); err != nil {
		return 0, err
	}
	crcl := float64(140-ageYears) * weightKg / (72 * creatinineMgDL)
	if female {
		crcl *= 0.85
	}
	return crcl, nil
}

// RenalBand is the dose range allowed for a creatinine-clearance band.
type RenalBand struct {
	MinCrCl     float64 // mL/min, inclusive
	MaxCrCl     float64 // mL/min, exclusive; 0 means no upper bound
	MinDailyMg  float64 // mg/day, lowest total daily dose in the band
	MaxDailyMg  float64 // mg/day, highest total daily dose in the band
	TimesPerDay float64 // doses per day; 0.5 = every other day
	Note        string  // free text shown with the band, e.g. the regimen
}

// contains reports whether crcl (mL/min) falls in b.
func (b RenalBand) contains(crcl float64) bool {
	return crcl >= b.MinCrCl && (b.MaxCrCl == 0 || crcl < b.MaxCrCl)
}

// RenalLimit returns the band that contains crcl (mL/min), and false when no
// band does or crcl is NaN. The bands may be given in any order. Bands should
// not overlap (CheckRenalBands reports overlaps); if they do, the band with
// the lowest MaxDailyMg, the more cautious one, wins, and on a tie the one
// given first.
func RenalLimit(bands []RenalBand, crcl float64) (RenalBand, bool) {
	if math.IsNaN(crcl) {
		return RenalBand{}, false
	}
	var (
		best  RenalBand
		found bool
	)
	for _, b := range bands {
		if !b.contains(crcl) {
			continue
		}
		if !found || b.MaxDailyMg < best.MaxDailyMg {
			best, found = b, true
		}
	}
	return best, found
}

// CheckRenalBands reports every problem in a table of renal bands: negative
// or reversed CrCl limits, a minimum dose above the maximum, a non-positive
// dosing frequency, and bands that overlap. Gaps between bands are allowed;
// RenalLimit returns false inside a gap. Paths are "bands[i].Field".
func CheckRenalBands(bands []RenalBand) error {
	var v ekbom.ValidationError
	for i, b := range bands {
		p := func(field string) string { return fmt.Sprintf("bands[%d].%s", i, field) }
		if !(b.MinCrCl >= 0) || !finite(b.MinCrCl) {
			v.Add(p("MinCrCl"), "must be a number of at least 0, got %v", b.MinCrCl)
		}
		if !(b.MaxCrCl >= 0) || !finite(b.MaxCrCl) {
			v.Add(p("MaxCrCl"), "must be 0 (no upper bound) or a positive number, got %v", b.MaxCrCl)
		} else if b.MaxCrCl != 0 && b.MaxCrCl <= b.MinCrCl {
			v.Add(p("MaxCrCl"), "%v is not above MinCrCl %v", b.MaxCrCl, b.MinCrCl)
		}
		if !(b.MinDailyMg >= 0) || !finite(b.MinDailyMg) {
			v.Add(p("MinDailyMg"), "must be a number of at least 0, got %v", b.MinDailyMg)
		}
		requirePositive(&v, p("MaxDailyMg"), b.MaxDailyMg)
		if b.MinDailyMg > b.MaxDailyMg {
			v.Add(p("MinDailyMg"), "%v is above MaxDailyMg %v", b.MinDailyMg, b.MaxDailyMg)
		}
		requirePositive(&v, p("TimesPerDay"), b.TimesPerDay)
		for j := range i {
			if overlap(bands[j], b) {
				v.Add(p("MinCrCl"), "band overlaps bands[%d]", j)
			}
		}
	}
	return v.Err()
}

// overlap reports whether the half-open CrCl ranges of a and b intersect.
func overlap(a, b RenalBand) bool {
	hi := func(x RenalBand) float64 {
		if x.MaxCrCl == 0 {
			return math.Inf(1)
		}
		return x.MaxCrCl
	}
	return a.MinCrCl < hi(b) && b.MinCrCl < hi(a)
}
