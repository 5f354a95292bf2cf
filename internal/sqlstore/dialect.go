package sqlstore

import (
	"strconv"
	"strings"
)

// Placeholder is how a dialect writes query parameters.
type Placeholder int

// Placeholder styles.
const (
	Question Placeholder = iota // ? (SQLite)
	Dollar                      // $1, $2, … (PostgreSQL)
)

// Dialect describes what differs between the SQL databases the store runs on.
// The queries are written once, with ? placeholders, in the SQL both
// databases share (INSERT … RETURNING, LIKE … ESCAPE, LIMIT/OFFSET).
type Dialect struct {
	// Name selects the embedded migrations, migrations/<Name>/NNNN_*.sql.
	Name string
	// Placeholder is the parameter style queries are rebound to.
	Placeholder Placeholder
	// NativeTime passes time.Time values to the driver (TIMESTAMPTZ
	// columns). When false, times are written as fixed-width RFC 3339 UTC
	// text with microseconds, which sorts in time order.
	NativeTime bool
	// TimeType is the column type of schema_migrations.applied_at.
	TimeType string
	// MigrationLock, when set, is executed first in every migration
	// transaction to serialise concurrent migrators (a PostgreSQL advisory
	// lock). SQLite needs none: its write transactions are exclusive.
	MigrationLock string
	// IsUniqueViolation reports whether err is a unique-constraint failure.
	IsUniqueViolation func(error) bool
	// IsForeignKeyViolation reports whether err is a foreign-key failure.
	IsForeignKeyViolation func(error) bool
}

// Rebind rewrites the ? placeholders of query in style p. Question marks
// inside quoted strings or identifiers are left alone.
func Rebind(p Placeholder, query string) string {
	if p == Question || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	var quote byte // ' or " while inside a quoted string or identifier
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
