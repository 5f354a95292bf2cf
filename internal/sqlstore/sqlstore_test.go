package sqlstore

import (
	"testing"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT * FROM t WHERE a = ? AND b = ?`, `SELECT * FROM t WHERE a = $1 AND b = $2`},
		{`SELECT '?' , "a?b", ? FROM t WHERE x LIKE ? ESCAPE '\'`, `SELECT '?' , "a?b", $1 FROM t WHERE x LIKE $2 ESCAPE '\'`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
	} {
		if got := Rebind(Dollar, tc.in); got != tc.want {
			t.Errorf("Rebind(Dollar, %q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		if got := Rebind(Question, tc.in); got != tc.in {
			t.Errorf("Rebind(Question, %q) = %q, want it unchanged", tc.in, got)
		}
	}
}

func TestLikePattern(t *testing.T) {
	for in, want := range map[string]string{
		"ek":      `%ek%`,
		"100%":    `%100\%%`,
		"k_9":     `%k\_9%`,
		`back\sl`: `%back\\sl%`,
	} {
		if got := likePattern(in); got != want {
			t.Errorf("likePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMigrationsEmbedded(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		ms, err := Migrations(dialect)
		if err != nil {
			t.Fatal(err)
		}
		if ms[0].Version != 1 || ms[0].Name != "0001_init.sql" || len(ms[0].SQL) == 0 {
			t.Errorf("%s: first migration %+v", dialect, ms[0].Name)
		}
	}
	// Both dialects must move in step: the same versions and names.
	a, _ := Migrations("sqlite")
	b, _ := Migrations("postgres")
	if len(a) != len(b) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			t.Errorf("migration %d: sqlite %s, postgres %s", i+1, a[i].Name, b[i].Name)
		}
	}
	if _, err := Migrations("oracle"); err == nil {
		t.Error("Migrations(oracle) succeeded")
	}
}
