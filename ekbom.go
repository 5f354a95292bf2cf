// Package ekbom holds the domain types of the ekbom clinical decision-support
// system for refractory restless legs syndrome (RLS, Willis–Ekbom disease):
// the patient record that comes in, the management plan that goes out, and the
// error type shared by every layer.
//
// The types follow the public contract (shared/spec/contract.md). Clinical
// knowledge lives in package kb, the decision logic in package engine, and
// dosing arithmetic in package dose; this package does no I/O and depends on
// the standard library only.
package ekbom

import (
	"fmt"
	"strings"
	"time"
)

// EngineVersion is the version of the decision logic. It is recorded in every
// plan next to the knowledge-base version so a past plan can be explained.
const EngineVersion = "0.1.0"

// ContractVersion is the version of the public input and output contract.
const ContractVersion = "1"

// Date is a calendar date with no time of day or zone, written YYYY-MM-DD.
type Date struct {
	t time.Time // always midnight UTC
}

// DateOf returns the date with the given year, month and day.
func DateOf(year int, month time.Month, day int) Date {
	return Date{time.Date(year, month, day, 0, 0, 0, 0, time.UTC)}
}

// DateFromTime returns the calendar date of t in t's own location.
func DateFromTime(t time.Time) Date {
	y, m, d := t.Date()
	return DateOf(y, m, d)
}

// ParseDate parses a YYYY-MM-DD date.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// IsZero reports whether d is the zero date (unset).
func (d Date) IsZero() bool { return d.t.IsZero() }

// Time returns d as midnight UTC.
func (d Date) Time() time.Time { return d.t }

// String returns d as YYYY-MM-DD, or "" for the zero date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(time.DateOnly)
}

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// AddMonths returns d moved by n calendar months.
func (d Date) AddMonths(n int) Date { return Date{d.t.AddDate(0, n, 0)} }

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.t.After(e.t) }

// DaysSince returns the number of whole days from e to d (d − e).
func (d Date) DaysSince(e Date) int {
	return int(d.t.Sub(e.t).Hours() / 24)
}

// MarshalText writes the date as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a YYYY-MM-DD date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}
