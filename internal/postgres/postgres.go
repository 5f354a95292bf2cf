// Package postgres opens the ekbom store on a PostgreSQL database through
// pgx (github.com/jackc/pgx/v5/stdlib).
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"ekbom/internal/sqlstore"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// PostgreSQL error codes (SQLSTATE).
const (
	foreignKeyViolation = "23503"
	uniqueViolation     = "23505"
)

// migrationLock is the pg_advisory_xact_lock key that serialises
// migrations of several processes starting at once ("ekbom" in ASCII).
const migrationLock = 0x656b626f6d

var dialect = sqlstore.Dialect{
	Name:          "postgres",
	Placeholder:   sqlstore.Dollar,
	NativeTime:    true,
	TimeType:      "TIMESTAMPTZ",
	MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLock),
	IsUniqueViolation: func(err error) bool {
		return sqlState(err) == uniqueViolation
	},
	IsForeignKeyViolation: func(err error) bool {
		return sqlState(err) == foreignKeyViolation
	},
}

func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Pool limits. PostgreSQL allows 100 connections by default; a few
// instances of ekbom serve should fit beside other clients.
const (
	maxOpenConns    = 16
	maxIdleConns    = 4
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
)

// Open connects to the database named by dsn (a postgres:// URL or key=value
// string, as pgx accepts), checks it answers and applies any pending
// migrations. Tables are created in the first schema of the search_path,
// which a pgx DSN can set with search_path=NAME.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s, err := sqlstore.New(ctx, db, dialect, sqlstore.Options{})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return s, nil
}
