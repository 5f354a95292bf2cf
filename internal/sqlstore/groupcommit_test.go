package sqlstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ekbom"
	"ekbom/internal/sqlite"
	"ekbom/internal/sqlstore"
)

// TestCardsServedConcurrent has 16 writers save 12 batches each at once,
// every batch twice (by two writers): each must be stored once, with its
// cards and one audit entry, one save succeeding and the other getting
// ErrConflict. On SQLite this goes through the group committer.
func TestCardsServedConcurrent(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t)
			ctx := t.Context()
			const writers, each = 16, 12
			type outcome struct{ ok, conflict int }
			var (
				mu       sync.Mutex
				outcomes = map[string]*outcome{}
				errs     []error
				wg       sync.WaitGroup
			)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						for _, n := range []int{w*each + i, (w+1)%writers*each + i} {
							b := batch(int64(n+1), json50)
							err := s.SaveCardsServed(ctx, b)
							mu.Lock()
							o := outcomes[b.ID]
							if o == nil {
								o = &outcome{}
								outcomes[b.ID] = o
							}
							switch {
							case err == nil:
								o.ok++
							case errors.Is(err, ekbom.ErrConflict):
								o.conflict++
							default:
								errs = append(errs, err)
							}
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("saves failed:\n%v", err)
			}
			if len(outcomes) != writers*each {
				t.Fatalf("%d batch IDs, want %d", len(outcomes), writers*each)
			}
			for id, o := range outcomes {
				if o.ok != 1 || o.conflict != 1 {
					t.Errorf("batch %s: %d saves succeeded and %d conflicted, want 1 and 1", id, o.ok, o.conflict)
				}
				got, err := s.GetCardBatch(ctx, id)
				if err != nil {
					t.Fatalf("batch %s: %v", id, err)
				}
				if len(got.Cards) != 6 || string(got.Plan) != string(json50) {
					t.Errorf("batch %s: %d cards, plan %q", id, len(got.Cards), got.Plan)
				}
			}
			audit, err := s.ListAudit(ctx, ekbom.AuditFilter{Entity: "cds", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(audit) != writers*each {
				t.Errorf("%d audit entries, want %d", len(audit), writers*each)
			}
			if _, groups, batches, largest, ok := sqlstore.GroupCommitStats(s); ok {
				t.Logf("group commit: %d batches in %d transactions, largest %d", batches, groups, largest)
			}
		})
	}
}

// json50 is a small plan.
var json50 = []byte(`{"status":"not_yet_refractory","warnings":[]}`)

// holder holds the group committer inside its first transaction, before
// the COMMIT, until released, so that the calls made meanwhile queue up
// and form the next group.
type holder struct {
	s       *sqlstore.Store
	held    chan struct{}
	release chan struct{}
	armed   atomic.Bool
	// then, if set, runs before every later COMMIT.
	then func(n int) error
}

func newHolder(t *testing.T, s *sqlstore.Store) *holder {
	t.Helper()
	if _, _, _, _, ok := sqlstore.GroupCommitStats(s); !ok {
		t.Fatal("the store has no group committer")
	}
	h := &holder{s: s, held: make(chan struct{}), release: make(chan struct{})}
	h.armed.Store(true)
	sqlstore.SetBeforeGroupCommit(s, func(n int) error {
		if h.armed.CompareAndSwap(true, false) {
			close(h.held)
			<-h.release
			return nil
		}
		if h.then != nil {
			return h.then(n)
		}
		return nil
	})
	return h
}

// hold saves a batch and returns once the committer holds its
// transaction open; the returned channel gets that save's result.
func (h *holder) hold(t *testing.T, id int64) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.s.SaveCardsServed(context.Background(), batch(id, json50)) }()
	select {
	case <-h.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the committer did not reach its first COMMIT")
	}
	return done
}

// waitQueued waits until n calls wait for the committer.
func waitQueued(t *testing.T, s *sqlstore.Store, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		waiting, _, _, _, _ := sqlstore.GroupCommitStats(s)
		if waiting == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls wait for the committer, want %d", waiting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// save starts SaveCardsServed of each batch and returns their results
// channels, in order.
func saveAll(s *sqlstore.Store, bs []ekbom.CardBatch) []chan error {
	out := make([]chan error, len(bs))
	for i, b := range bs {
		out[i] = make(chan error, 1)
		go func() { out[i] <- s.SaveCardsServed(context.Background(), b) }()
	}
	return out
}

// TestGroupCommitFailureIsolation puts 14 batches in one group: ten new
// ones, two repeats of a stored batch and two saves of one new ID. The
// failing batches fail alone: the repeats and one of the two saves get
// ErrConflict and change nothing, every other batch is stored.
func TestGroupCommitFailureIsolation(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	stored := batch(1, json50)
	stored.Cards = stored.Cards[:2]
	if err := s.SaveCardsServed(ctx, stored); err != nil {
		t.Fatal(err)
	}
	h := newHolder(t, s)
	blocker := h.hold(t, 2)

	var bs []ekbom.CardBatch
	for i := range 10 {
		bs = append(bs, batch(int64(10+i), json50))
	}
	bs = append(bs, batch(1, json50), batch(1, json50), batch(100, json50), batch(100, json50))
	results := saveAll(s, bs)
	waitQueued(t, s, int64(len(bs)))
	close(h.release)
	if err := <-blocker; err != nil {
		t.Fatalf("blocker: %v", err)
	}
	var errs []error
	for _, r := range results {
		errs = append(errs, <-r)
	}
	for i := range 10 {
		if errs[i] != nil {
			t.Errorf("new batch %s: %v", bs[i].ID, errs[i])
		}
	}
	for i := 10; i < 12; i++ {
		if !errors.Is(errs[i], ekbom.ErrConflict) {
			t.Errorf("repeat of a stored batch: got %v, want ErrConflict", errs[i])
		}
	}
	if a, b := errs[12], errs[13]; !(a == nil && errors.Is(b, ekbom.ErrConflict) || b == nil && errors.Is(a, ekbom.ErrConflict)) {
		t.Errorf("two saves of one new batch: %v and %v, want one nil and one ErrConflict", a, b)
	}
	if _, _, _, largest, _ := sqlstore.GroupCommitStats(s); largest != int64(len(bs)) {
		t.Errorf("largest group %d, want the %d batches in one", largest, len(bs))
	}

	for _, b := range append(bs[:10:10], batch(2, json50), batch(100, json50)) {
		got, err := s.GetCardBatch(ctx, b.ID)
		if err != nil {
			t.Errorf("batch %s: %v", b.ID, err)
		} else if len(got.Cards) != 6 {
			t.Errorf("batch %s: %d cards, want 6", b.ID, len(got.Cards))
		}
	}
	if got, err := s.GetCardBatch(ctx, stored.ID); err != nil || len(got.Cards) != 2 {
		t.Errorf("the stored batch changed: %v, %+v", err, got)
	}
	audit, err := s.ListAudit(ctx, ekbom.AuditFilter{Entity: "cds", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 1 + 10 + 1; len(audit) != want {
		t.Errorf("%d audit entries, want %d (one per batch stored)", len(audit), want)
	}
}

// TestGroupCommitPartialBatchRolledBack makes one batch of a group fail
// after its batch row and cards are written (a trigger refuses its audit
// entry): its savepoint must take them back, and the other batches of the
// group must be stored.
func TestGroupCommitPartialBatchRolledBack(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	bad := batch(50, json50)
	_, err := s.DB().ExecContext(ctx, `CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log
	WHEN NEW.entity_id = '`+bad.ID+`' BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END`)
	if err != nil {
		t.Fatal(err)
	}
	h := newHolder(t, s)
	blocker := h.hold(t, 1)
	bs := []ekbom.CardBatch{batch(10, json50), batch(11, json50), bad, batch(12, json50), batch(13, json50)}
	results := saveAll(s, bs)
	waitQueued(t, s, int64(len(bs)))
	close(h.release)
	if err := <-blocker; err != nil {
		t.Fatalf("blocker: %v", err)
	}
	for i, r := range results {
		err := <-r
		switch {
		case bs[i].ID == bad.ID:
			if err == nil || !strings.Contains(err.Error(), "injected audit failure") {
				t.Errorf("failing batch: got %v, want the injected failure", err)
			}
		case err != nil:
			t.Errorf("batch %s: %v", bs[i].ID, err)
		}
	}
	if _, _, _, largest, _ := sqlstore.GroupCommitStats(s); largest != int64(len(bs)) {
		t.Errorf("largest group %d, want the %d batches in one", largest, len(bs))
	}
	if _, err := s.GetCardBatch(ctx, bad.ID); !errors.Is(err, ekbom.ErrNotFound) {
		t.Errorf("failing batch: %v, want ErrNotFound", err)
	}
	var cards int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM cds_cards WHERE batch_id = ?`, bad.ID).Scan(&cards); err != nil || cards != 0 {
		t.Errorf("failing batch left %d cards (%v)", cards, err)
	}
	for _, b := range bs {
		if b.ID == bad.ID {
			continue
		}
		if got, err := s.GetCardBatch(ctx, b.ID); err != nil || len(got.Cards) != 6 {
			t.Errorf("batch %s: %v", b.ID, err)
		}
	}
}

// TestGroupCommitAnswersAfterCommit checks that no call of a group is
// answered, and no batch of it visible to readers, before its COMMIT.
func TestGroupCommitAnswersAfterCommit(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	h := newHolder(t, s)
	reached := make(chan int, 1)
	commit := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(commit) }) }
	t.Cleanup(release) // so that a failing test does not leave the committer stuck
	h.then = func(n int) error {
		reached <- n
		<-commit
		return nil
	}
	blocker := h.hold(t, 1)
	var bs []ekbom.CardBatch
	for i := range 8 {
		bs = append(bs, batch(int64(10+i), json50))
	}
	results := saveAll(s, bs)
	waitQueued(t, s, int64(len(bs)))
	close(h.release)
	if err := <-blocker; err != nil {
		t.Fatalf("blocker: %v", err)
	}
	// The group has run its INSERTs and waits before COMMIT.
	if n := <-reached; n != len(bs) {
		t.Errorf("group of %d, want %d", n, len(bs))
	}
	time.Sleep(20 * time.Millisecond) // room for a wrong early answer
	early := map[int]bool{}
	for i, r := range results {
		select {
		case err := <-r:
			t.Errorf("batch %s answered (%v) before its COMMIT", bs[i].ID, err)
			early[i] = true
		default:
		}
		if _, err := s.GetCardBatch(ctx, bs[i].ID); !errors.Is(err, ekbom.ErrNotFound) {
			t.Errorf("batch %s visible before its COMMIT: %v", bs[i].ID, err)
		}
	}
	release()
	for i, r := range results {
		if early[i] {
			continue
		}
		if err := <-r; err != nil {
			t.Errorf("batch %s: %v", bs[i].ID, err)
		}
		if _, err := s.GetCardBatch(ctx, bs[i].ID); err != nil {
			t.Errorf("batch %s after its COMMIT: %v", bs[i].ID, err)
		}
	}
}

// TestGroupCommitFailedCommit fails a group's COMMIT: nothing of it is
// committed, so each batch is written again alone, and each caller gets the
// result of its own transaction.
func TestGroupCommitFailedCommit(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	if err := s.SaveCardsServed(ctx, batch(1, json50)); err != nil {
		t.Fatal(err)
	}
	h := newHolder(t, s)
	var failed atomic.Int32
	h.then = func(n int) error {
		if n > 1 && failed.Add(1) == 1 {
			return errors.New("injected COMMIT failure")
		}
		return nil
	}
	blocker := h.hold(t, 2)
	var bs []ekbom.CardBatch
	for i := range 6 {
		bs = append(bs, batch(int64(10+i), json50))
	}
	bs = append(bs, batch(1, json50))
	results := saveAll(s, bs)
	waitQueued(t, s, int64(len(bs)))
	close(h.release)
	if err := <-blocker; err != nil {
		t.Fatalf("blocker: %v", err)
	}
	for i, r := range results {
		err := <-r
		switch {
		case i < 6 && err != nil:
			t.Errorf("batch %s: %v", bs[i].ID, err)
		case i == 6 && !errors.Is(err, ekbom.ErrConflict):
			t.Errorf("repeat of a stored batch: got %v, want ErrConflict", err)
		}
	}
	if failed.Load() != 1 {
		t.Fatalf("%d group COMMITs failed, want 1", failed.Load())
	}
	for _, b := range bs[:6] {
		if got, err := s.GetCardBatch(ctx, b.ID); err != nil || len(got.Cards) != 6 {
			t.Errorf("batch %s: %v", b.ID, err)
		}
	}
	audit, err := s.ListAudit(ctx, ekbom.AuditFilter{Entity: "cds", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 1 + 6; len(audit) != want {
		t.Errorf("%d audit entries, want %d", len(audit), want)
	}
}

// TestGroupCommitCancelWhileWaiting checks that a call whose context ends
// while it waits for the committer returns the context's error and stores
// nothing.
func TestGroupCommitCancelWhileWaiting(t *testing.T) {
	s := openSQLite(t)
	h := newHolder(t, s)
	blocker := h.hold(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.SaveCardsServed(ctx, batch(2, json50)) }()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: got %v, want context.Canceled", err)
	}
	close(h.release)
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCardBatch(t.Context(), batch(2, json50).ID); !errors.Is(err, ekbom.ErrNotFound) {
		t.Errorf("the cancelled batch: %v, want ErrNotFound", err)
	}
}

// TestGroupCommitClose closes a store while calls wait for the committer:
// they get an error, and the held transaction is committed first.
func TestGroupCommitClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ekbom.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h := newHolder(t, s)
	blocker := h.hold(t, 1)
	// Close waits for the held transaction; the queued calls are refused.
	results := saveAll(s, []ekbom.CardBatch{batch(2, json50), batch(3, json50)})
	waitQueued(t, s, 2)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for _, r := range results {
		if err := <-r; err == nil {
			t.Error("a call queued at Close succeeded")
		}
	}
	close(h.release)
	if err := <-blocker; err != nil {
		t.Errorf("held batch: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetCardBatch(t.Context(), batch(1, json50).ID); err != nil {
		t.Errorf("held batch after Close: %v", err)
	}
}

// killChildEnv names the database the child of TestGroupCommitKill writes.
const killChildEnv = "EKBOM_SQLSTORE_GROUP_KILL_DB"

// TestGroupCommitKill starts a child process in which 16 goroutines save
// card batches as fast as they can (so they are group-committed) and print
// each acknowledged batch ID, kills it with SIGKILL mid-stream, and checks
// that every acknowledged batch is in the database afterwards.
func TestGroupCommitKill(t *testing.T) {
	if os.Getenv(killChildEnv) != "" {
		t.Skip("running as the writer child")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestGroupCommitKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
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
	for sc.Scan() && len(acked) < 400 && time.Now().Before(deadline) {
		if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
			acked = append(acked, id)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() // killed: the error is expected
	if len(acked) < 50 {
		t.Fatalf("child acknowledged only %d batches before the deadline", len(acked))
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("open after kill: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	for _, id := range acked {
		if got, err := s.GetCardBatch(ctx, id); err != nil || len(got.Cards) != 6 {
			t.Errorf("acknowledged batch %s lost after kill -9: %v", id, err)
		}
	}
	var check string
	if err := s.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	t.Logf("%d acknowledged batches survived SIGKILL", len(acked))
}

// TestGroupCommitKillChild is the writer of TestGroupCommitKill; it does
// nothing unless started by it.
func TestGroupCommitKillChild(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("only run as a child of TestGroupCommitKill")
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	plan := realisticPlan(t)
	var n atomic.Int64
	var mu sync.Mutex
	for range 16 {
		go func() {
			for {
				b := batch(n.Add(1), plan)
				if err := s.SaveCardsServed(context.Background(), b); err != nil {
					fmt.Fprintln(os.Stderr, "save:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Printf("ACK %s\n", b.ID)
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestGroupCommitPanicAloneReleasesWriter: a panic while a batch is
// written alone fails that call, and the transaction is rolled back, so the
// next write does not wait for SQLite's only writer connection (found in
// review: without the deferred rollback the second save timed out).
func TestGroupCommitPanicAloneReleasesWriter(t *testing.T) {
	s := openSQLite(t)
	var once atomic.Bool
	sqlstore.SetBeforeGroupCommit(s, func(int) error {
		if once.CompareAndSwap(false, true) {
			panic("driver bug")
		}
		return nil
	})
	if err := s.SaveCardsServed(context.Background(), batch(1, json50)); err == nil {
		t.Fatal("the panicking save reported success")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.SaveCardsServed(ctx, batch(2, json50)); err != nil {
		t.Errorf("the next save: %v", err)
	}
}
