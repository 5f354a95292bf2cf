package dose

import "slices"

// OpioidDose is one opioid a patient takes, for the MME total.
type OpioidDose struct {
	Drug     string  // display name, e.g. "oxycodone"
	DailyMg  float64 // mg/day (patches: the knowledge base's unit for the factor)
	Factor   float64 // MME per mg, from the knowledge base (CDC conversion factor)
	Included bool    // false when there is no CDC factor (buprenorphine): left out of the total
}

// MME returns the morphine milligram equivalents per day of dailyMg mg/day
// of an opioid with conversion factor factor (MME per mg). It is dailyMg ×
// factor, rounded to 1e-6; a non-positive or NaN input gives 0. MME sizes
// risk; it is not a dose-conversion tool.
func MME(dailyMg, factor float64) float64 {
	if !positive(dailyMg) || !positive(factor) {
		return 0
	}
	return round6(dailyMg * factor)
}

// TotalMME returns the total MME per day of the included doses, and the
// names of the drugs left out because they have no factor, each once, in
// input order (nil when none).
func TotalMME(doses []OpioidDose) (total float64, excluded []string) {
	for _, d := range doses {
		if !d.Included {
			if !slices.Contains(excluded, d.Drug) {
				excluded = append(excluded, d.Drug)
			}
			continue
		}
		total += MME(d.DailyMg, d.Factor)
	}
	return round6(total), excluded
}

// PPXEquivalent returns the pramipexole-equivalent dose, in mg/day, of
// dailyMg mg/day of a dopamine agonist with ppxPerMg pramipexole-equivalent
// mg per mg (from the knowledge base). It is dailyMg × ppxPerMg, rounded to
// 1e-6; a non-positive or NaN input gives 0.
func PPXEquivalent(dailyMg, ppxPerMg float64) float64 {
	if !positive(dailyMg) || !positive(ppxPerMg) {
		return 0
	}
	return round6(dailyMg * ppxPerMg)
}
