package dose

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"ekbom"
)

// Taper describes a stepwise taper of a dopamine agonist to stop.
type Taper struct {
	Drug           string  // e.g. "pramipexole"
	CurrentDailyMg float64 // mg/day of the drug (patch: mg/24 h)
	PPXPerMg       float64 // pramipexole-equivalent mg per 1 mg of this drug (pramipexole 1, ropinirole 0.2, rotigotine 0.3)
	StepPPXMg      float64 // reduction per step in pramipexole-equivalent mg
	StepDays       int     // days between reductions
	IncrementMg    float64 // mg; smallest practical dose unit of this drug (pramipexole 0.125, ropinirole 0.25, rotigotine 1); step is rounded to a multiple of it, at least one increment
}

// check reports every problem in t.
func (t Taper) check() error {
	var v ekbom.ValidationError
	if strings.TrimSpace(t.Drug) == "" {
		v.Add("Drug", "is empty")
	}
	requirePositive(&v, "CurrentDailyMg", t.CurrentDailyMg)
	requirePositive(&v, "PPXPerMg", t.PPXPerMg)
	requirePositive(&v, "StepPPXMg", t.StepPPXMg)
	if t.StepDays <= 0 {
		v.Add("StepDays", "must be a positive number of days, got %d", t.StepDays)
	}
	requirePositive(&v, "IncrementMg", t.IncrementMg)
	return v.Err()
}

// StepMg returns the reduction per taper step in mg of the drug: StepPPXMg
// converted with PPXPerMg, rounded down to a whole number of IncrementMg and
// at least one increment. Rounding down means a step is never larger than
// the pramipexole-equivalent step asked for, unless that is smaller than one
// increment. It returns the step as a count of increments and in mg.
func (t Taper) StepMg() (increments int64, mg float64, err error) {
	if err := t.check(); err != nil {
		return 0, 0, err
	}
	n := math.Floor(t.StepPPXMg/t.PPXPerMg/t.IncrementMg + eps)
	if n > MaxScheduleItems*1e6 {
		n = MaxScheduleItems * 1e6 // one step stops any dose; avoid overflow
	}
	increments = max(int64(n), 1)
	return increments, round6(float64(increments) * t.IncrementMg), nil
}

// TaperSchedule returns the calendar of a dopamine-agonist taper to stop.
//
// The first item, on start, is the first reduced dose (CurrentDailyMg minus
// one step, see Taper.StepMg); each next item comes StepDays later and is one
// step lower; the final item has DailyMg 0 and the text "stop <drug>". Doses
// never go below zero and strictly decrease from item to item. When
// CurrentDailyMg is not a whole number of increments, each dose is rounded up
// to the next increment, so every dose is a practical amount and the first
// reduction is smaller than a step, never larger. A current dose below one
// increment gives the single stop item.
//
// Text reads e.g. "pramipexole 0.375 mg/day (step 1 of 4)", counting the stop
// item as the last step. Non-positive values, an empty Drug and calendars
// longer than MaxScheduleItems are errors.
func TaperSchedule(start ekbom.Date, t Taper) ([]ekbom.ScheduleItem, error) {
	step, _, err := t.StepMg()
	if err != nil {
		return nil, err
	}
	// Work in whole increments so the doses cannot drift.
	cur := t.CurrentDailyMg/t.IncrementMg - eps
	// Reduced doses k = 1, 2, … are ceil(cur − k·step) increments while that
	// is above zero, that is while k < cur/step.
	reduced := max(math.Ceil(cur/float64(step))-1, 0)
	if reduced+1 > MaxScheduleItems {
		return nil, &ekbom.ValidationError{Problems: []ekbom.Problem{{
			Path:    "StepPPXMg",
			Message: fmt.Sprintf("taper would take more than %d steps", MaxScheduleItems),
		}}}
	}
	n := int(reduced) + 1
	items := make([]ekbom.ScheduleItem, n)
	var text []byte
	for k := 1; k < n; k++ {
		units := math.Ceil(cur - float64(int64(k)*step))
		mg := round6(units * t.IncrementMg)
		// "<drug> <mg> mg/day (step k of n)"
		text = append(append(text[:0], t.Drug...), ' ')
		text = append(appendMg(text, mg), " mg/day (step "...)
		text = append(strconv.AppendInt(text, int64(k), 10), " of "...)
		text = append(strconv.AppendInt(text, int64(n), 10), ')')
		items[k-1] = ekbom.ScheduleItem{
			Date:    start.AddDays((k - 1) * t.StepDays),
			DailyMg: mg,
			Text:    string(text),
		}
	}
	items[n-1] = ekbom.ScheduleItem{
		Date: start.AddDays((n - 1) * t.StepDays),
		Text: "stop " + t.Drug,
	}
	return items, nil
}
