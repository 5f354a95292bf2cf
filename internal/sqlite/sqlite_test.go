package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ekbom"
	"ekbom/internal/sqlite"
	"ekbom/internal/sqlstore"
	"ekbom/internal/storetest"
)

// open opens a store on a fresh database file that is removed after the test.
func open(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "ekbom.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ekbom.Store { return open(t) })
}

// TestPragmas checks the connection settings durability and integrity rely on.
func TestPragmas(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "5000"},
	} {
		var got string
		if err := s.DB().QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	if got := s.DB().Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
}

func TestOpenRejectsMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared", "x.db?mode=ro"} {
		if s, err := sqlite.Open(path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}

// TestReopen checks data outlives the store and a second Open migrates
// nothing.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ekbom.db")
	ctx := t.Context()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	p := &ekbom.PatientRecord{Name: "Persisted", MRN: "R-1"}
	if err := s.CreatePatient(ctx, p, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetPatient(ctx, p.ID)
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if got.Name != "Persisted" {
		t.Errorf("after reopen: name %q", got.Name)
	}
}

// childEnv names the database a child process writes to in TestKillDurability.
const childEnv = "EKBOM_SQLITE_KILL_CHILD_DB"

// TestKillDurability starts a child process that creates patients as fast as
// it can and prints the ID of each one the store acknowledged, kills it with
// SIGKILL mid-stream, and checks every acknowledged patient is in the
// database afterwards.
func TestKillDurability(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("running as the writer child")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(30 * time.Second)
	for sc.Scan() && len(acked) < 150 && time.Now().Before(deadline) {
		if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
			acked = append(acked, id)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() // killed: the error is expected
	if len(acked) < 20 {
		t.Fatalf("child acknowledged only %d writes before the deadline", len(acked))
	}

	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("open after kill: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	for _, id := range acked {
		if _, err := s.GetPatient(ctx, id); err != nil {
			t.Errorf("acknowledged patient %s lost after kill -9: %v", id, err)
		}
	}
	var check string
	if err := s.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

// TestKillChild is the writer of TestKillDurability; it does nothing unless
// started by it.
func TestKillChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("only run as a child of TestKillDurability")
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		p := &ekbom.PatientRecord{Name: fmt.Sprintf("Kill %d", i)}
		if err := s.CreatePatient(ctx, p, "writer"); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ACK %s\n", p.ID)
	}
}

func BenchmarkCreateVisit(b *testing.B) {
	s := open(b)
	ctx := b.Context()
	p := &ekbom.PatientRecord{Name: "Bench"}
	if err := s.CreatePatient(ctx, p, "bench"); err != nil {
		b.Fatal(err)
	}
	d := ekbom.DateOf(2026, time.March, 14)
	data := storetest.SamplePatient(d)
	b.ReportAllocs()
	for b.Loop() {
		v := &ekbom.Visit{PatientID: p.ID, Date: d, Data: data}
		if err := s.CreateVisit(ctx, v, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListPatients(b *testing.B) {
	s := open(b)
	ctx := b.Context()
	for i := range 2000 {
		p := &ekbom.PatientRecord{Name: fmt.Sprintf("Patient %04d Lindqvist", i), MRN: fmt.Sprintf("M-%05d", i)}
		if err := s.CreatePatient(ctx, p, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		f    ekbom.PatientFilter
	}{
		{"first-page", ekbom.PatientFilter{}},
		{"search", ekbom.PatientFilter{Query: "0042"}},
		{"deep-page", ekbom.PatientFilter{Limit: 50, Offset: 1900}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.ListPatients(ctx, bc.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
