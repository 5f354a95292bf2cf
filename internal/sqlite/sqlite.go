// Package sqlite opens the ekbom store on an SQLite database file, using the
// pure-Go driver modernc.org/sqlite, so builds need no cgo.
//
// The database runs in WAL mode with foreign keys on, a 5 s busy timeout and
// synchronous=FULL, so an acknowledged write survives a crash of the process
// or the machine. Writes go through a single connection (SQLite has one
// writer at a time) whose transactions begin IMMEDIATE; reads use a separate
// pool of read-only connections, which WAL lets run beside the writer.
// The card batches of concurrent CDS Hooks calls are group-committed (one
// transaction and one fsync for the batches waiting for the writer, each
// call answered after the commit; see sqlstore.Options.GroupCommit).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"ekbom/internal/sqlstore"

	msqlite "modernc.org/sqlite"
)

// SQLite extended result codes (sqlite3.h).
const (
	constraintForeignKey = 787
	constraintPrimaryKey = 1555
	constraintUnique     = 2067
)

// dialect is what sqlstore needs to know about SQLite.
var dialect = sqlstore.Dialect{
	Name:        "sqlite",
	Placeholder: sqlstore.Question,
	TimeType:    "TEXT",
	IsUniqueViolation: func(err error) bool {
		var e *msqlite.Error
		return errors.As(err, &e) && (e.Code() == constraintUnique || e.Code() == constraintPrimaryKey)
	},
	IsForeignKeyViolation: func(err error) bool {
		var e *msqlite.Error
		return errors.As(err, &e) && e.Code() == constraintForeignKey
	},
}

// Pragmas of every connection; busy_timeout is applied first by the driver.
const common = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"

// Open opens (creating if needed) the database file at path and applies any
// pending migrations. In-memory databases are not supported: the writer and
// the readers would each see a different database.
func Open(path string) (*sqlstore.Store, error) {
	switch {
	case path == "" || strings.Contains(path, ":memory:") || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlite: open %q: a database file path is required", path)
	case strings.Contains(path, "?"):
		return nil, fmt.Errorf("sqlite: open %q: the path may not contain '?'", path)
	}
	writer, err := sql.Open("sqlite", path+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The first connection creates the file and switches it to WAL before
	// any reader opens it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	reader, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	reader.SetConnMaxIdleTime(5 * time.Minute)

	s, err := sqlstore.New(ctx, writer, dialect, sqlstore.Options{ReadDB: reader, GroupCommit: true})
	if err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}
