package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFiles embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int    // from the file name, 1, 2, …
	Name    string // file name, e.g. 0001_init.sql
	SQL     string
}

// Migrations returns the embedded migrations of a dialect in order. Versions
// start at 1 and have no gaps.
func Migrations(dialect string) ([]Migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: no migrations for dialect %q: %w", dialect, err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %s/%s: want NNNN_name.sql", dir, name)
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration %s/%s: %w", dir, name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("sqlstore: migrations of %s: %s out of sequence, want version %d", dialect, m.Name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("sqlstore: no migrations for dialect %q", dialect)
	}
	return ms, nil
}

// migrate applies the migrations the database lacks, each in its own
// transaction together with its schema_migrations row. A database migrated
// by a newer program (a version this program does not know) is refused.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := Migrations(s.d.Name)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at `+s.d.TimeType+` NOT NULL
)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	var newest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	if int(newest.Int64) > len(ms) {
		return fmt.Errorf("sqlstore: database schema version %d is newer than this program's %d", newest.Int64, len(ms))
	}
	for _, m := range ms {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if err := s.lockMigrations(ctx, tx); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil // applied already, perhaps by a concurrent process
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				m.Version, m.Name, s.timeArg(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s/%s: %w", s.d.Name, m.Name, err)
		}
	}
	return nil
}

func (s *Store) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if s.d.MigrationLock == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.MigrationLock)
	return err
}

// SchemaVersion returns the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return int(v.Int64), nil
}
