// Package sqlstore implements ekbom.Store once, over database/sql, for every
// SQL database ekbom runs on. A small Dialect names what differs (placeholder
// style, time columns, how constraint failures look); internal/sqlite and
// internal/postgres open a connection pool, supply their dialect and call New.
//
// The schema is created by numbered SQL migrations embedded per dialect
// (migrations/<dialect>/NNNN_name.sql), applied by New in order, each in its
// own transaction, and recorded in schema_migrations.
//
// Conventions: times are stored in UTC with microsecond precision; IDs are
// 16 random bytes in hex; patients and visits use optimistic concurrency
// (Version); every create, update and delete of a patient, visit or
// assessment writes an audit entry in the same transaction; the audit log and
// the content of assessments cannot be changed, which database triggers
// enforce as well.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ekbom"
)

// Limits of list queries.
const (
	DefaultPatientLimit = 50   // PatientFilter.Limit 0
	DefaultAuditLimit   = 100  // AuditFilter.Limit 0
	MaxLimit            = 1000 // larger limits are lowered to this
)

// Options configures New. The zero value is valid.
type Options struct {
	// ReadDB, when set, serves the queries that run outside a transaction
	// (SQLite: a pool of read-only connections beside the single writer).
	// Nil means the main pool serves everything.
	ReadDB *sql.DB
	// GroupCommit writes the card batches of concurrent SaveCardsServed
	// calls in one transaction, each under its own savepoint, and answers
	// each call once that transaction is committed (see groupcommit.go).
	// For a database with a single writer connection (SQLite), where under
	// load it saves a transaction and an fsync per batch, and writes the
	// pages the batches share once. False: one transaction per call.
	GroupCommit bool
}

// Store is ekbom.Store over database/sql. It is safe for concurrent use.
type Store struct {
	db   *sql.DB // writes and transactions
	read *sql.DB // reads outside transactions; may be db
	d    Dialect
	st   stmts // prepared by New

	group *groupCommitter // nil without Options.GroupCommit

	mu   sync.Mutex
	last time.Time // last time handed out by now

	tokenPrune atomic.Int64 // unix nanoseconds of the next sweep of expired token ids
}

var _ ekbom.Store = (*Store)(nil)

// New returns a store over db, first applying any migrations of dialect d
// the database lacks. The store owns db (and opt.ReadDB): Close closes them.
func New(ctx context.Context, db *sql.DB, d Dialect, opt Options) (*Store, error) {
	if db == nil || d.Name == "" || d.IsUniqueViolation == nil || d.IsForeignKeyViolation == nil || d.TimeType == "" {
		return nil, errors.New("sqlstore: incomplete dialect or nil db")
	}
	s := &Store{db: db, read: db, d: d}
	if opt.ReadDB != nil {
		s.read = opt.ReadDB
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	if opt.GroupCommit {
		if err := s.startGroupCommit(ctx); err != nil {
			s.st.close()
			return nil, err
		}
	}
	return s, nil
}

// DB returns the read-write pool, for tests and maintenance tools.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the dialect the store was opened with.
func (s *Store) Dialect() Dialect { return s.d }

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	if s.read != s.db {
		if err := s.read.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlstore: ping reader: %w", err)
		}
	}
	return nil
}

// Close stops the group committer, if any, once its current transaction
// is done, then closes the prepared statements and the connection pools.
func (s *Store) Close() error {
	var errs []error
	if s.group != nil {
		errs = append(errs, s.group.stop())
	}
	errs = append(errs, s.st.close())
	if s.read != s.db {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// q rebinds a query written with ? placeholders for the dialect.
func (s *Store) q(query string) string { return Rebind(s.d.Placeholder, query) }

// now returns the current time in UTC, truncated to microseconds (the
// precision both databases keep) and strictly increasing within this store,
// so that "newest first" orderings never tie.
func (s *Store) now() time.Time {
	t := time.Now().UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !t.After(s.last) {
		t = s.last.Add(time.Microsecond)
	}
	s.last = t
	return t
}

// timeArg converts t to the value stored in a time column.
func (s *Store) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if s.d.NativeTime {
		return t
	}
	return t.Format(textTime)
}

// textTime is the layout of times stored as text: fixed width, so that text
// order is time order. Times are always UTC, so Z is literal.
const textTime = "2006-01-02T15:04:05.000000Z"

// inTx runs fn in a transaction on the read-write pool, committing when fn
// returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// If fn panics (and the panic is recovered above, as the group
	// committer does) the transaction is still rolled back, so it does not
	// keep SQLite's only writer connection. After Commit or Rollback this
	// is a no-op.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, rerr)
		}
		return err
	}
	return tx.Commit()
}

// audit appends an audit entry inside tx.
func (s *Store) audit(ctx context.Context, tx *sql.Tx, at time.Time, actor, action, entity, id, detail string) error {
	_, err := tx.StmtContext(ctx, s.st.audit).ExecContext(ctx, s.timeArg(at), actor, action, entity, id, detail)
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// newID returns 16 random bytes in hex.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// checkActor rejects an empty actor: every change must name who made it.
func checkActor(actor string) error {
	if strings.TrimSpace(actor) == "" {
		return fmt.Errorf("actor is required: %w", ekbom.ErrInvalid)
	}
	return nil
}

// notFound maps sql.ErrNoRows to ekbom.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ekbom.ErrNotFound
	}
	return err
}

// limit applies the default and maximum of a list limit.
func limit(n, def int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("negative limit: %w", ekbom.ErrInvalid)
	case n == 0:
		return def, nil
	case n > MaxLimit:
		return MaxLimit, nil
	}
	return n, nil
}

// likePattern returns a LIKE pattern matching s as a substring, with the
// wildcards of s escaped by backslash (queries say ESCAPE '\').
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// key is the case-folded form of a name used for search and uniqueness. It
// is computed here rather than with SQL lower(), which in SQLite folds ASCII
// only, so that both databases behave the same.
func key(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// nullString maps "" to NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// dateArg converts an optional date to a column value.
func dateArg(d *ekbom.Date) any {
	if d == nil || d.IsZero() {
		return nil
	}
	return d.String()
}
