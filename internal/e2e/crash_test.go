package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// Crash test parameters: the server is killed with SIGKILL once this many
// writes of the round have been acknowledged, while writers keeps sending.
var (
	crashKillAfter = []int{250, 400, 300}
	crashWriters   = 6
)

// ackPatient and ackVisit are writes the server acknowledged (2xx), with
// what was sent.
type ackPatient struct {
	ID, MRN, Name, Sex, BirthDate string
}

type ackVisit struct {
	ID, PatientID, Date string
	IRLS                int
	Ferritin            float64
}

// ledger records every acknowledged write.
type ledger struct {
	mu       sync.Mutex
	patients []ackPatient
	visits   []ackVisit
}

func (l *ledger) snapshot() ([]ackPatient, []ackVisit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ackPatient(nil), l.patients...), append([]ackVisit(nil), l.visits...)
}

// dbChecker checks the database directly: structural consistency and an
// audit "create" entry for every acknowledged write.
type dbChecker func(t *testing.T, l *ledger)

// TestCrashSQLite kills the server (SIGKILL) in the middle of a stream of
// API writes three times, at different points. After each kill the SQLite
// file must pass integrity_check and foreign_key_check, hold an audit entry
// for every acknowledged write, and, once the server is back, the API must
// return every acknowledged patient and visit with its content.
func TestCrashSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "crash.db")
	runCrash(t, db, func(t *testing.T, l *ledger) { checkSQLite(t, db, l) })
}

// TestCrashPostgres is the same against PostgreSQL, in a fresh schema of
// EKBOM_TEST_POSTGRES_DSN's database; the database server keeps running
// and only ekbom is killed. Skipped without the DSN (CI sets it).
func TestCrashPostgres(t *testing.T) {
	base := os.Getenv("EKBOM_TEST_POSTGRES_DSN")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(`CI=true but EKBOM_TEST_POSTGRES_DSN is empty; start a server with: eval "$(scripts/pg-test-server.sh)"`)
		}
		t.Skip(`EKBOM_TEST_POSTGRES_DSN is not set; PostgreSQL crash test skipped (eval "$(scripts/pg-test-server.sh)" to run it)`)
	}
	dsn := freshSchema(t, base)
	runCrash(t, dsn, func(t *testing.T, l *ledger) { checkPostgres(t, dsn, l) })
}

func runCrash(t *testing.T, db string, check dbChecker) {
	start := time.Now()
	createAccounts(t, db)
	srv := mustStart(t, db)
	c := newClient(t, srv.URL)
	c.login(adminUser, adminPassword)
	token := c.createToken("crash-test")

	l := &ledger{}
	for round, n := range crashKillAfter {
		acked, sent := writeUntilKilled(t, srv, token, round, n, l)
		if t.Failed() {
			return
		}
		if acked < n {
			t.Fatalf("round %d: only %d writes acknowledged before the server died", round, acked)
		}
		t.Logf("round %d: SIGKILL after %d acknowledged writes (%d sent)", round, acked, sent)
		if srv.err == nil || !strings.Contains(srv.err.Error(), "killed") {
			t.Errorf("round %d: server exit %v, want killed", round, srv.err)
		}
		check(t, l)
		srv = mustStart(t, db)
		verifyAcknowledged(t, srv, token, l)
		if t.Failed() {
			return
		}
	}
	if err := srv.stop(); err != nil {
		t.Errorf("graceful stop after the crash rounds: %v", err)
	}
	check(t, l)
	p, v := l.snapshot()
	t.Logf("%d patients and %d visits acknowledged and found after %d kills, in %s", len(p), len(v), len(crashKillAfter), time.Since(start).Round(time.Millisecond))
}

// writeUntilKilled runs crashWriters goroutines that each create a patient
// and then a visit for it, again and again, recording each acknowledged
// write; the server is killed as soon as n writes of this round are
// acknowledged. It returns when every writer has stopped.
func writeUntilKilled(t *testing.T, srv *server, token string, round, n int, l *ledger) (acked, sent int) {
	var ackN, sentN atomic.Int64
	var once sync.Once
	ack := func() {
		if ackN.Add(1) >= int64(n) {
			once.Do(func() { go srv.kill() })
		}
	}
	var unexpected sync.Once
	fail := func(format string, args ...any) {
		unexpected.Do(func() { t.Errorf(format, args...) })
	}
	var wg sync.WaitGroup
	for g := range crashWriters {
		wg.Go(func() {
			api := newAPI(t, srv.URL, token)
			for i := 0; ; i++ {
				select {
				case <-srv.done:
					return
				default:
				}
				p := ackPatient{
					MRN:       fmt.Sprintf("CR%d-%d-%05d", round, g, i),
					Name:      fmt.Sprintf("Crash Round%d Writer%d No%d", round, g, i),
					Sex:       []string{"female", "male"}[i%2],
					BirthDate: fmt.Sprintf("19%02d-%02d-%02d", 40+i%50, 1+i%12, 1+i%28),
				}
				body, _ := json.Marshal(map[string]string{"mrn": p.MRN, "name": p.Name, "sex": p.Sex, "birth_date": p.BirthDate})
				sentN.Add(1)
				r, err := api.call("POST", "/api/patients", string(body))
				if err != nil {
					return // the server is gone: not acknowledged
				}
				if r.Status != http.StatusCreated {
					fail("POST /api/patients: %d %s", r.Status, r.Body)
					return
				}
				var got struct{ ID, MRN string }
				if json.Unmarshal([]byte(r.Body), &got) != nil || got.ID == "" || got.MRN != p.MRN {
					fail("POST /api/patients answered %s", r.Body)
					return
				}
				p.ID = got.ID
				l.mu.Lock()
				l.patients = append(l.patients, p)
				l.mu.Unlock()
				ack()

				v := ackVisit{PatientID: p.ID, Date: fmt.Sprintf("2026-10-%02d", 1+i%28), IRLS: (g*7 + i) % 41, Ferritin: float64(10 + (i*13)%300)}
				vb := fmt.Sprintf(`{"date": %q, "data": {"labs": [{"test": "ferritin", "value": %g, "unit": "ng/mL", "date": "2026-09-30"}], "symptoms": {"irls_total": %d}}}`, v.Date, v.Ferritin, v.IRLS)
				sentN.Add(1)
				r, err = api.call("POST", "/api/patients/"+p.ID+"/visits", vb)
				if err != nil {
					return
				}
				if r.Status != http.StatusCreated {
					fail("POST visit: %d %s", r.Status, r.Body)
					return
				}
				var gv struct{ ID, PatientID string }
				if json.Unmarshal([]byte(r.Body), &gv) != nil || gv.ID == "" {
					fail("POST visit answered %s", r.Body)
					return
				}
				v.ID = gv.ID
				l.mu.Lock()
				l.visits = append(l.visits, v)
				l.mu.Unlock()
				ack()
			}
		})
	}
	wg.Wait()
	if !t.Failed() {
		select {
		case <-srv.done:
		case <-time.After(30 * time.Second):
			t.Errorf("round %d: the server was not killed (%d acknowledged of %d)", round, ackN.Load(), n)
			srv.kill()
		}
	} else {
		srv.kill()
	}
	return int(ackN.Load()), int(sentN.Load())
}

// verifyAcknowledged reads every acknowledged patient and visit back
// through the API of the restarted server and compares the content.
func verifyAcknowledged(t *testing.T, srv *server, token string, l *ledger) {
	t.Helper()
	patients, visits := l.snapshot()
	var missing, wrong atomic.Int64
	var firstErr sync.Once
	report := func(format string, args ...any) {
		firstErr.Do(func() { t.Errorf(format, args...) })
	}
	jobs := make(chan func(*apiClient))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			api := newAPI(t, srv.URL, token)
			for job := range jobs {
				job(api)
			}
		})
	}
	for _, p := range patients {
		jobs <- func(api *apiClient) {
			r, err := api.call("GET", "/api/patients/"+p.ID, "")
			switch {
			case err != nil:
				report("GET patient %s: %v", p.ID, err)
				missing.Add(1)
			case r.Status == http.StatusNotFound:
				report("acknowledged patient %s (%s) is missing after the crash", p.ID, p.MRN)
				missing.Add(1)
			case r.Status != http.StatusOK:
				report("GET patient %s: %d %s", p.ID, r.Status, r.Body)
				missing.Add(1)
			default:
				var got struct{ ID, MRN, Name, Sex, BirthDate string }
				json.Unmarshal([]byte(r.Body), &got)
				var bd struct {
					BirthDate string `json:"birth_date"`
				}
				json.Unmarshal([]byte(r.Body), &bd)
				if got.ID != p.ID || got.MRN != p.MRN || got.Name != p.Name || got.Sex != p.Sex || bd.BirthDate != p.BirthDate {
					report("patient %s after the crash: %s, want %+v", p.ID, r.Body, p)
					wrong.Add(1)
				}
			}
		}
	}
	for _, v := range visits {
		jobs <- func(api *apiClient) {
			r, err := api.call("GET", "/api/visits/"+v.ID, "")
			switch {
			case err != nil:
				report("GET visit %s: %v", v.ID, err)
				missing.Add(1)
			case r.Status == http.StatusNotFound:
				report("acknowledged visit %s of patient %s is missing after the crash", v.ID, v.PatientID)
				missing.Add(1)
			case r.Status != http.StatusOK:
				report("GET visit %s: %d %s", v.ID, r.Status, r.Body)
				missing.Add(1)
			default:
				var got struct {
					ID        string `json:"id"`
					PatientID string `json:"patient_id"`
					Date      string `json:"date"`
					Data      struct {
						Labs []struct {
							Test  string  `json:"test"`
							Value float64 `json:"value"`
						} `json:"labs"`
						Symptoms struct {
							IRLSTotal *int `json:"irls_total"`
						} `json:"symptoms"`
					} `json:"data"`
				}
				json.Unmarshal([]byte(r.Body), &got)
				ok := got.ID == v.ID && got.PatientID == v.PatientID && got.Date == v.Date &&
					got.Data.Symptoms.IRLSTotal != nil && *got.Data.Symptoms.IRLSTotal == v.IRLS &&
					len(got.Data.Labs) == 1 && got.Data.Labs[0].Test == "ferritin" && got.Data.Labs[0].Value == v.Ferritin
				if !ok {
					report("visit %s after the crash: %s, want %+v", v.ID, r.Body, v)
					wrong.Add(1)
				}
			}
		}
	}
	close(jobs)
	wg.Wait()
	if m, w := missing.Load(), wrong.Load(); m+w > 0 {
		t.Errorf("after restart: %d acknowledged writes missing, %d changed (of %d patients and %d visits)", m, w, len(patients), len(visits))
	}
}

// checkSQLite opens the database file the killed server left behind and
// checks it.
func checkSQLite(t *testing.T, path string, l *ledger) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := withTimeout(t, time.Minute)
	var rows []string
	r, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	for r.Next() {
		var s string
		r.Scan(&s)
		rows = append(rows, s)
	}
	r.Close()
	if len(rows) != 1 || rows[0] != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, want ok", rows)
	}
	r, err = db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatalf("foreign_key_check: %v", err)
	}
	n := 0
	for r.Next() {
		n++
	}
	r.Close()
	if n != 0 {
		t.Errorf("PRAGMA foreign_key_check found %d violations", n)
	}
	checkRows(t, ctx, db, l)
}

// checkPostgres checks the schema of a PostgreSQL crash run.
func checkPostgres(t *testing.T, dsn string, l *ledger) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := withTimeout(t, time.Minute)
	// The constraints are enforced by the server; check that none is
	// marked not valid and that no row escaped them.
	var notValid int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE n.nspname = current_schema() AND NOT c.convalidated`).Scan(&notValid); err != nil {
		t.Fatalf("pg_constraint: %v", err)
	}
	if notValid != 0 {
		t.Errorf("%d constraints are not validated", notValid)
	}
	checkRows(t, ctx, db, l)
}

// checkRows checks, on either database, that no visit or assessment lacks
// its patient, that every acknowledged row is stored with what was sent,
// and that every patient and visit has its "create" audit entry (written in
// the same transaction, so a row without one means a torn write).
func checkRows(t *testing.T, ctx context.Context, db *sql.DB, l *ledger) {
	t.Helper()
	for _, q := range []string{
		`SELECT count(*) FROM visits v WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = v.patient_id)`,
		`SELECT count(*) FROM assessments a WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = a.patient_id)`,
		`SELECT count(*) FROM patients p WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'create' AND a.entity = 'patient' AND a.entity_id = p.id)`,
		`SELECT count(*) FROM visits v WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'create' AND a.entity = 'visit' AND a.entity_id = v.id)`,
	} {
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != 0 {
			t.Errorf("%d rows from: %s", n, q)
		}
	}
	patients, visits := l.snapshot()
	stored := map[string]string{} // id → mrn
	rows, err := db.QueryContext(ctx, `SELECT id, COALESCE(mrn, '') FROM patients`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, mrn string
		rows.Scan(&id, &mrn)
		stored[id] = mrn
	}
	rows.Close()
	audited := map[string]bool{} // entity/id with a create entry
	rows, err = db.QueryContext(ctx, `SELECT entity, entity_id FROM audit_log WHERE action = 'create' AND entity IN ('patient', 'visit')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e, id string
		rows.Scan(&e, &id)
		audited[e+"/"+id] = true
	}
	rows.Close()
	visitRows := map[string]string{} // id → patient_id
	rows, err = db.QueryContext(ctx, `SELECT id, patient_id FROM visits`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, pid string
		rows.Scan(&id, &pid)
		visitRows[id] = pid
	}
	rows.Close()
	var bad []string
	for _, p := range patients {
		if mrn, ok := stored[p.ID]; !ok || mrn != p.MRN {
			bad = append(bad, "patient "+p.ID+" row")
		}
		if !audited["patient/"+p.ID] {
			bad = append(bad, "patient "+p.ID+" audit")
		}
	}
	for _, v := range visits {
		if visitRows[v.ID] != v.PatientID {
			bad = append(bad, "visit "+v.ID+" row")
		}
		if !audited["visit/"+v.ID] {
			bad = append(bad, "visit "+v.ID+" audit")
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d acknowledged writes lack their row or audit entry in the database, e.g. %s", len(bad), strings.Join(bad[:min(len(bad), 5)], ", "))
	}
}

// freshSchema creates an empty schema in base's database, dropped when the
// test ends, and returns a DSN that uses it (pgx passes search_path to the
// server).
func freshSchema(t *testing.T, base string) string {
	t.Helper()
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		t.Fatalf("EKBOM_TEST_POSTGRES_DSN must be a postgres:// URL (ekbom serve -db takes only those)")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "ekbom_e2e_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx := withTimeout(t, 30*time.Second)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
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
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("EKBOM_TEST_POSTGRES_DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
