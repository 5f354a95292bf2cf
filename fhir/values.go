package fhir

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"ekbom"
)

// Precision of a FHIR date.
const (
	precYear = iota + 1
	precMonth
	precDay
)

// parseDate reads a FHIR date, dateTime or instant: YYYY, YYYY-MM,
// YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm). The date of a
// dateTime is the calendar date as written, in the record's own offset.
func parseDate(s string) (ekbom.Date, int, bool) {
	s = strings.TrimSpace(s)
	switch len(s) {
	case 4:
		t, err := time.Parse("2006", s)
		if err != nil {
			return ekbom.Date{}, 0, false
		}
		return ekbom.DateFromTime(t), precYear, true
	case 7:
		t, err := time.Parse("2006-01", s)
		if err != nil {
			return ekbom.Date{}, 0, false
		}
		return ekbom.DateFromTime(t), precMonth, true
	case 10:
		d, err := ekbom.ParseDate(s)
		if err != nil {
			return ekbom.Date{}, 0, false
		}
		return d, precDay, true
	}
	if len(s) < 10 || s[10] != 'T' {
		return ekbom.Date{}, 0, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return ekbom.DateFromTime(t), precDay, true
		}
	}
	return ekbom.Date{}, 0, false
}

// instant parses a dateTime for ordering; the zero time when it cannot.
func instant(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly, "2006-01", "2006"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t
		}
	}
	return time.Time{}
}

// absurd is the largest number ekbom accepts anywhere in FHIR input.
const absurd = 1e6

// number checks a FHIR decimal at path: it must be a finite number from 0 to
// 1e6. ok is false when it is absent or wrong (a wrong one is reported).
func (r *reader) number(path string, d decimal) (float64, bool) {
	if !d.set {
		return 0, false
	}
	if d.bad != "" {
		r.fail(path, "want a number, got %s", d.bad)
		return 0, false
	}
	f, err := strconv.ParseFloat(string(d.Number), 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		r.fail(path, "%s is not a finite number", truncate(string(d.Number), 40))
	case f < 0:
		r.fail(path, "%s is negative", d.Number)
	case f > absurd:
		r.fail(path, "%s is above %g, which is not plausible", truncate(string(d.Number), 40), absurd)
	default:
		return f, true
	}
	return 0, false
}

// unitKey folds the spellings of a unit into one key: case, the micro sign,
// "mcg", spaces, UCUM braces and annotations ("mL/min/{1.73_m2}").
func unitKey(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	return unitFolder.Replace(u)
}

var unitFolder = strings.NewReplacer(
	"µ", "u", "μ", "u", "mcg", "ug", "mcmol", "umol", "²", "2",
	" ", "", "{", "", "}", "", "_", "", "\t", "", "(", "", ")", "", ".h", "h",
)

// quantityUnits returns the keys to try for q's unit: the UCUM code first,
// then the human-readable unit.
func quantityUnits(q *quantity) []string {
	var out []string
	if q.Code != "" && (q.System == "" || q.System == systemUCUM) {
		out = append(out, unitKey(q.Code))
	}
	if q.Unit != "" {
		out = append(out, unitKey(q.Unit))
	}
	return out
}

func quantityUnitText(q *quantity) string {
	switch {
	case q.Code != "" && q.Unit != "" && q.Code != q.Unit:
		return q.Unit + " (" + q.Code + ")"
	case q.Code != "":
		return q.Code
	}
	return q.Unit
}

// massFactor converts a mass unit to mg.
var massFactor = map[string]float64{
	"mg": 1, "milligram": 1, "milligrams": 1,
	"g": 1000, "gram": 1000, "grams": 1000,
	"ug": 0.001, "microgram": 0.001, "micrograms": 0.001,
}

// rateFactor converts a rate unit to mg per 24 h.
var rateFactor = map[string]float64{
	"mg/24h": 1, "mg/d": 1, "mg/day": 1, "mg/24hr": 1, "mg/24hours": 1,
	"ug/24h": 0.001, "ug/d": 0.001, "ug/day": 0.001,
	"mg/h": 24, "mg/hr": 24,
	"ug/h": 0.024, "ug/hr": 0.024,
}

// kgFactor converts a body-weight unit to kg.
var kgFactor = map[string]float64{
	"kg": 1, "g": 0.001, "[lbav]": 0.45359237, "lb": 0.45359237, "lbs": 0.45359237,
}

func round(x float64, places int) float64 {
	p := math.Pow10(places)
	r := math.Round(x*p) / p
	if r == 0 {
		return 0
	}
	return r
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func ptr[T any](x T) *T { return &x }

func fmtNum(x float64) string { return strconv.FormatFloat(round(x, 4), 'f', -1, 64) }
