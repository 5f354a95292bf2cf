package sqlstore

import (
	"fmt"
	"time"

	"ekbom"
)

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// parseTime reads a time column: time.Time from drivers with native times,
// text from the others.
func parseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad time %q: %w", x, err)
		}
		return t.UTC(), nil
	case []byte:
		return parseTime(string(x))
	}
	return time.Time{}, fmt.Errorf("cannot read %T as a time", v)
}

// timeCol scans a NOT NULL time column.
type timeCol struct{ p *time.Time }

func (c timeCol) Scan(v any) error {
	t, err := parseTime(v)
	if err != nil {
		return err
	}
	*c.p = t
	return nil
}

// nullTimeCol scans a nullable time column.
type nullTimeCol struct{ p **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.p = nil
		return nil
	}
	t, err := parseTime(v)
	if err != nil {
		return err
	}
	*c.p = &t
	return nil
}

// parseDate reads a date column: a DATE (time.Time) or YYYY-MM-DD text.
func parseDate(v any) (ekbom.Date, error) {
	switch x := v.(type) {
	case time.Time:
		return ekbom.DateFromTime(x), nil
	case string:
		return ekbom.ParseDate(x)
	case []byte:
		return ekbom.ParseDate(string(x))
	}
	return ekbom.Date{}, fmt.Errorf("cannot read %T as a date", v)
}

// dateCol scans a NOT NULL date column.
type dateCol struct{ p *ekbom.Date }

func (c dateCol) Scan(v any) error {
	d, err := parseDate(v)
	if err != nil {
		return err
	}
	*c.p = d
	return nil
}

// nullDateCol scans a nullable date column.
type nullDateCol struct{ p **ekbom.Date }

func (c nullDateCol) Scan(v any) error {
	if v == nil {
		*c.p = nil
		return nil
	}
	d, err := parseDate(v)
	if err != nil {
		return err
	}
	*c.p = &d
	return nil
}
