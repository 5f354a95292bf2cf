package dose

import (
	"fmt"

	"ekbom"
)

// IRLSItems is the number of items of the International Restless Legs
// Syndrome Study Group rating scale (IRLS).
const IRLSItems = 10

// IRLSMaxItem is the highest score of one IRLS item; the lowest is 0.
const IRLSMaxItem = 4

// Band is a named range of scores, such as an IRLS severity band.
type Band struct {
	Min  int    // lowest score in the band, inclusive
	Max  int    // highest score in the band, inclusive
	Name string // band name, e.g. "moderate"
}

// IRLSTotal returns the IRLS total score (0–40) of the 10 item scores, given
// in item order. Each item must be 0–4; the error lists every bad item,
// numbered from 1, e.g. "item 3: 5 is outside 0–4". A list of other than 10
// items is an error.
func IRLSTotal(items []int) (int, error) {
	var v ekbom.ValidationError
	if len(items) != IRLSItems {
		v.Add("items", "got %d items, want %d", len(items), IRLSItems)
		return 0, v.Err()
	}
	total := 0
	for i, s := range items {
		if s < 0 || s > IRLSMaxItem {
			v.Add(fmt.Sprintf("item %d", i+1), "%d is outside 0–%d", s, IRLSMaxItem)
		}
		total += s
	}
	if err := v.Err(); err != nil {
		return 0, err
	}
	return total, nil
}

// IRLSBand returns the name of the first band, in the order given, whose
// Min–Max range (inclusive) holds total, and false when none does.
func IRLSBand(total int, bands []Band) (string, bool) {
	for _, b := range bands {
		if total >= b.Min && total <= b.Max {
			return b.Name, true
		}
	}
	return "", false
}
