package sqlstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"ekbom/internal/sqlite"
	"ekbom/internal/sqlstore"

	"github.com/google/go-cmp/cmp"
)

type applied struct {
	Version   int
	Name      string
	AppliedAt string
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

// TestMigrateFreshThenNoop checks a fresh database gets every migration,
// recorded once, and a second Open applies nothing.
func TestMigrateFreshThenNoop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := sqlstore.Migrations("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	first := migrations(t, s)
	if len(first) != len(want) {
		t.Fatalf("fresh database has %d migrations recorded, want %d", len(first), len(want))
	}
	for i, m := range want {
		if first[i].Version != m.Version || first[i].Name != m.Name {
			t.Errorf("recorded %+v, want %d %s", first[i], m.Version, m.Name)
		}
		if _, err := time.Parse(time.RFC3339Nano, first[i].AppliedAt); err != nil {
			t.Errorf("applied_at %q: %v", first[i].AppliedAt, err)
		}
	}
	v, err := s.SchemaVersion(t.Context())
	if err != nil || v != len(want) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(want))
	}
	var tables int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM sqlite_schema`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	s.Close()

	time.Sleep(2 * time.Millisecond) // a re-applied migration would get a new applied_at
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	defer s.Close()
	if d := cmp.Diff(first, migrations(t, s)); d != "" {
		t.Errorf("second open changed schema_migrations (-first +second):\n%s", d)
	}
	var tables2 int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM sqlite_schema`).Scan(&tables2); err != nil {
		t.Fatal(err)
	}
	if tables2 != tables {
		t.Errorf("schema objects %d after second open, %d after first", tables2, tables)
	}
}

// TestMigrateRefusesNewerSchema checks a program does not run on a database
// migrated by a newer one.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', '2030-01-01T00:00:00.000000Z')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := sqlite.Open(path); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}
