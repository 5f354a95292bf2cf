package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"ekbom"
	"ekbom/internal/postgres"
	"ekbom/internal/sqlstore"
	"ekbom/internal/storetest"

	"github.com/google/go-cmp/cmp"
)

// dsn returns the test server's DSN, or skips the test without one. On CI
// (CI=true) a missing DSN fails instead: CI must test on PostgreSQL.
func dsn(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("EKBOM_TEST_POSTGRES_DSN")
	if dsn == "" {
		const how = `start a throwaway server with: eval "$(scripts/pg-test-server.sh)"`
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but EKBOM_TEST_POSTGRES_DSN is empty: CI must run the store tests on PostgreSQL; " + how)
		}
		t.Skip("EKBOM_TEST_POSTGRES_DSN is not set, PostgreSQL tests skipped; " + how)
	}
	return dsn
}

// withSearchPath returns dsn with its search_path set to schema; pgx sends
// unknown DSN parameters to the server as run-time settings.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("EKBOM_TEST_POSTGRES_DSN: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// freshSchema creates an empty schema, dropped when the test ends, and
// returns a DSN that uses it.
func freshSchema(t *testing.T) string {
	t.Helper()
	base := dsn(t)
	var b [8]byte
	rand.Read(b[:])
	schema := "ekbom_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return withSearchPath(t, base, schema)
}

// open opens a store on a fresh schema, closed when the test ends (before
// the schema is dropped).
func open(t *testing.T) *sqlstore.Store {
	t.Helper()
	dsn := freshSchema(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	dsn(t)
	storetest.Run(t, func(t *testing.T) ekbom.Store { return open(t) })
}

type applied struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

func migrations(t *testing.T, s *sqlstore.Store) []applied {
	t.Helper()
	rows, err := s.DB().QueryContext(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.Version, &a.Name, &a.AppliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrateFreshThenNoop checks a fresh schema gets every migration,
// recorded once, and a second Open applies nothing.
func TestMigrateFreshThenNoop(t *testing.T) {
	dsn := freshSchema(t)
	ctx := t.Context()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	want, err := sqlstore.Migrations("postgres")
	if err != nil {
		t.Fatal(err)
	}
	first := migrations(t, s)
	if len(first) != len(want) {
		t.Fatalf("fresh schema has %d migrations recorded, want %d", len(first), len(want))
	}
	for i, m := range want {
		if first[i].Version != m.Version || first[i].Name != m.Name {
			t.Errorf("recorded %+v, want %d %s", first[i], m.Version, m.Name)
		}
	}
	s.Close()

	s, err = postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	defer s.Close()
	if d := cmp.Diff(first, migrations(t, s)); d != "" {
		t.Errorf("second open changed schema_migrations (-first +second):\n%s", d)
	}
}

// TestMigrateConcurrentOpen opens one fresh schema from several processes'
// worth of pools at once: the advisory lock lets one migrate, the others
// find the work done.
func TestMigrateConcurrentOpen(t *testing.T) {
	dsn := freshSchema(t)
	ctx := t.Context()
	const n = 4
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = postgres.Open(ctx, dsn)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("open %d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	want, _ := sqlstore.Migrations("postgres")
	if got := migrations(t, stores[0]); len(got) != len(want) {
		t.Errorf("%d migrations recorded, want %d", len(got), len(want))
	}
}

// TestAuditTruncateRefused checks the statement-level guard on audit_log.
func TestAuditTruncateRefused(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	if err := s.AppendAudit(ctx, ekbom.AuditEntry{Actor: "alice", Action: "login", Entity: "session"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `TRUNCATE audit_log`); err == nil {
		t.Fatal("TRUNCATE audit_log succeeded")
	}
	got, err := s.ListAudit(ctx, ekbom.AuditFilter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("after TRUNCATE: %d entries, %v", len(got), err)
	}
}
