package dose

import (
	"fmt"
	"math"
	"strings"

	"ekbom"
)

// Titration describes an upward titration to a target dose.
type Titration struct {
	Drug          string  // display name, e.g. "gabapentin"
	StartDailyMg  float64 // mg/day on the first day
	StepMg        float64 // mg/day added per step
	StepDays      int     // days between steps
	TargetDailyMg float64 // mg/day; stop titrating here
	MaxDailyMg    float64 // mg/day; never exceed (renal or label limit); 0 = no extra limit
	TimesPerDay   float64 // number of doses per day at target (1, 2 or 3); 0 means 1
	Timing        string  // when a single daily dose is taken, e.g. "1–3 h before symptoms usually begin"
}

// doseTimes names the times of day of n divided doses, earliest first.
var doseTimes = [...][]string{
	2: {"in the afternoon", "at bedtime"},
	3: {"in the morning", "in the afternoon", "at bedtime"},
}

// check reports every problem in t.
func (t Titration) check() error {
	var v ekbom.ValidationError
	if strings.TrimSpace(t.Drug) == "" {
		v.Add("Drug", "is empty")
	}
	requirePositive(&v, "StartDailyMg", t.StartDailyMg)
	requirePositive(&v, "StepMg", t.StepMg)
	if t.StepDays <= 0 {
		v.Add("StepDays", "must be a positive number of days, got %d", t.StepDays)
	}
	requirePositive(&v, "TargetDailyMg", t.TargetDailyMg)
	if !(t.MaxDailyMg >= 0) || !finite(t.MaxDailyMg) {
		v.Add("MaxDailyMg", "must be 0 (no extra limit) or a positive number, got %v", t.MaxDailyMg)
	}
	switch t.TimesPerDay {
	case 0, 1, 2, 3:
	default:
		v.Add("TimesPerDay", "must be 1, 2 or 3, got %v", t.TimesPerDay)
	}
	return v.Err()
}

// TitrationSchedule returns the calendar of an upward titration. The first
// item is on start at StartDailyMg; each next item comes StepDays later and
// adds StepMg, until the cap, which is TargetDailyMg or MaxDailyMg when that
// is set and lower. The last item is exactly the cap, and no item exceeds it;
// when StartDailyMg is already at or above the cap, the calendar is the single
// item of the cap.
//
// Each item's Text names the daily dose. When the dose is split (see
// SplitDoses) it lists the divided doses, for example "gabapentin 600 mg/day:
// 300 mg in the afternoon and 300 mg at bedtime"; a single daily dose is
// described with Timing.
//
// Non-positive start, step, step days or target, a negative maximum,
// TimesPerDay other than 0, 1, 2 or 3, an empty Drug and calendars longer
// than MaxScheduleItems are errors.
func TitrationSchedule(start ekbom.Date, t Titration) ([]ekbom.ScheduleItem, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	limit := t.TargetDailyMg
	if t.MaxDailyMg > 0 && t.MaxDailyMg < limit {
		limit = t.MaxDailyMg
	}
	limit = round6(limit)

	// Number of items: the start, then one per step until the cap.
	steps := 1.0
	if t.StartDailyMg < limit {
		steps += math.Ceil((limit-t.StartDailyMg)/t.StepMg - eps)
	}
	if steps > MaxScheduleItems {
		return nil, &ekbom.ValidationError{Problems: []ekbom.Problem{{
			Path:    "StepMg",
			Message: fmt.Sprintf("titration would take more than %d steps", MaxScheduleItems),
		}}}
	}
	n := int(steps)
	times := int(t.TimesPerDay)
	if times == 0 {
		times = 1
	}
	items := make([]ekbom.ScheduleItem, n)
	timing := strings.TrimSpace(t.Timing)
	var text []byte
	var split [3]float64 // times is at most 3
	for k := range n {
		mg := round6(math.Min(t.StartDailyMg+float64(k)*t.StepMg, limit))
		if k == n-1 {
			mg = limit
		}
		text = appendTitrationText(text[:0], t.Drug, timing, mg, splitDoses(split[:0], mg, times, t.StartDailyMg, t.StepMg))
		items[k] = ekbom.ScheduleItem{
			Date:    start.AddDays(k * t.StepDays),
			DailyMg: mg,
			Text:    string(text),
		}
	}
	return items, nil
}

// appendTitrationText describes one titration item of mg mg/day given as
// doses: "gabapentin 600 mg/day: 300 mg in the afternoon and 300 mg at
// bedtime", or "… mg/day once daily, <timing>".
func appendTitrationText(b []byte, drug, timing string, mg float64, doses []float64) []byte {
	b = append(append(b, drug...), ' ')
	b = append(appendMg(b, mg), " mg/day"...)
	if len(doses) <= 1 {
		b = append(b, " once daily"...)
		if timing != "" {
			b = append(append(b, ", "...), timing...)
		}
		return b
	}
	names := doseTimes[len(doses)]
	b = append(b, ": "...)
	for i, d := range doses {
		switch {
		case i == len(doses)-1:
			b = append(b, " and "...)
		case i > 0:
			b = append(b, ", "...)
		}
		b = append(appendMg(b, d), " mg "...)
		b = append(b, names[i]...)
	}
	return b
}

// SplitDoses divides dailyMg into at most times doses, earliest first, as
// evenly as whole units allow. The unit is the largest amount that divides
// dailyMg and each of the sizes given (typically the start dose and the
// step), to the nearest nanogram, so no dose is an odd amount the titration
// never used. When dailyMg is fewer units than times, there are fewer doses;
// when the units do not split evenly, the later doses get one unit more. The
// doses add up to dailyMg. A non-positive dailyMg gives nil; times below 1 is
// read as 1.
func SplitDoses(dailyMg float64, times int, sizes ...float64) []float64 {
	return splitDoses(nil, dailyMg, times, sizes...)
}

// splitDoses appends the doses of SplitDoses to dst.
func splitDoses(dst []float64, dailyMg float64, times int, sizes ...float64) []float64 {
	if !positive(dailyMg) {
		return dst
	}
	if dailyMg > 1e9 {
		return append(dst, dailyMg) // beyond any dose; avoid int64 overflow
	}
	times = max(times, 1)
	total := nanograms(dailyMg)
	if total == 0 {
		return append(dst, dailyMg) // below a nanogram: nothing to split
	}
	unit := total
	for _, s := range sizes {
		if positive(s) && s <= 1e9 {
			unit = gcd(unit, nanograms(s))
		}
	}
	units := total / unit // unit divides total, so units ≥ 1
	n := int(min(int64(times), units))
	base, extra := units/int64(n), units%int64(n)
	for i := range n {
		u := base
		if int64(i) >= int64(n)-extra {
			u++
		}
		dst = append(dst, round6(float64(u*unit)/1e6))
	}
	return dst
}

// nanograms converts mg to a whole number of nanograms (1e-6 mg, the
// precision of round6).
func nanograms(mg float64) int64 {
	return int64(math.Round(mg * 1e6))
}

// gcd returns the greatest common divisor of a and b (both non-negative).
func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
