package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"ekbom"
)

// Group commit of card batches (Options.GroupCommit).
//
// On SQLite every write goes through one connection, and each transaction
// ends with an fsync of the WAL. A busy patient-view service stores one card
// batch per call, so under load the calls queue for the writer and each
// pays for its own BEGIN, COMMIT and fsync, and writes again the table and
// index pages the previous one wrote (about 21 WAL frames of 4 KiB for a
// patient-view batch alone, 7 in a group of 8). With group commit the batches
// of concurrent SaveCardsServed calls are written by one goroutine, the
// committer, in one transaction:
//
//	BEGIN
//	  SAVEPOINT cds_batch; INSERTs of batch 1; RELEASE cds_batch
//	  SAVEPOINT cds_batch; INSERTs of batch 2 fail; ROLLBACK TO cds_batch; RELEASE cds_batch
//	  …
//	COMMIT
//
// and each caller is answered only after that COMMIT has returned: nil if
// its batch is in the committed transaction, or its own error (a batch
// whose INSERTs fail is rolled back to its savepoint, so it fails alone).
// If the group as a whole fails (BEGIN, a savepoint statement or the COMMIT
// itself), nothing of it was committed and every batch of the group is
// written again in a transaction of its own, as without group commit, and
// its caller gets that result.
//
// There is no waiting to fill a group: the committer takes whatever calls
// are waiting when it is free, at most maxGroup, so a call on an idle
// store is written at once, alone. The statements of a group run on a
// context of their own (one caller's cancellation must not abort the
// others' transaction); a caller whose context ends while it waits gets
// ctx.Err() and its batch is skipped if the committer has not started it,
// else written anyway (a later retry then gets ErrConflict, which
// internal/web treats as stored).

// maxGroup bounds the batches of one group transaction.
const maxGroup = 64

// cardCall is one SaveCardsServed call waiting for the committer.
type cardCall struct {
	ctx  context.Context
	b    *ekbom.CardBatch
	done chan error // buffered: the committer never waits for the caller
}

// groupCommitter writes the card batches of concurrent calls together.
type groupCommitter struct {
	s    *Store
	in   chan *cardCall
	quit chan struct{}
	wg   sync.WaitGroup

	stopOnce sync.Once

	savepoint, release, rollbackTo *sql.Stmt

	// beforeCommit, when set (tests), runs before the COMMIT of each
	// group; an error fails the group as a failed COMMIT would.
	beforeCommit func(n int) error

	// Counters for tests and benchmarks.
	waiting         atomic.Int64 // calls waiting to be taken
	groups, batches atomic.Int64 // transactions written, batches in them
	maxSize         atomic.Int64 // largest group
}

// startGroupCommit prepares the savepoint statements and starts the
// committer.
func (s *Store) startGroupCommit(ctx context.Context) error {
	g := &groupCommitter{s: s, in: make(chan *cardCall), quit: make(chan struct{})}
	for _, t := range []struct {
		query string
		dst   **sql.Stmt
	}{
		{"SAVEPOINT cds_batch", &g.savepoint},
		{"RELEASE SAVEPOINT cds_batch", &g.release},
		{"ROLLBACK TO SAVEPOINT cds_batch", &g.rollbackTo},
	} {
		st, err := s.db.PrepareContext(ctx, t.query)
		if err != nil {
			g.closeStmts()
			return fmt.Errorf("sqlstore: prepare %s: %w", t.query, err)
		}
		*t.dst = st
	}
	s.group = g
	g.wg.Add(1)
	go g.run()
	return nil
}

// stop ends the committer once its current group is done; calls still
// waiting to be taken get an error.
func (g *groupCommitter) stop() error {
	var err error
	g.stopOnce.Do(func() {
		close(g.quit)
		g.wg.Wait()
		err = g.closeStmts()
	})
	return err
}

func (g *groupCommitter) closeStmts() error {
	var errs []error
	for _, st := range []*sql.Stmt{g.savepoint, g.release, g.rollbackTo} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

var errStoreClosed = errors.New("store closed")

// save hands a validated batch to the committer and waits for its result.
func (g *groupCommitter) save(ctx context.Context, b *ekbom.CardBatch) error {
	c := &cardCall{ctx: ctx, b: b, done: make(chan error, 1)}
	g.waiting.Add(1)
	select {
	case g.in <- c:
		g.waiting.Add(-1)
	case <-g.quit:
		g.waiting.Add(-1)
		return errStoreClosed
	case <-ctx.Done():
		g.waiting.Add(-1)
		return ctx.Err()
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the committer: it takes the calls waiting, writes them as one
// group, answers them, and starts again.
func (g *groupCommitter) run() {
	defer g.wg.Done()
	group := make([]*cardCall, 0, maxGroup)
	for {
		select {
		case c := <-g.in:
			group = append(group[:0], c)
		case <-g.quit:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case c := <-g.in:
				group = append(group, c)
			default:
				break more
			}
		}
		g.commitSafely(group)
		clear(group) // no references to answered calls
	}
}

// commitSafely is commit, turning a panic (a driver bug, say) into an
// error for each call of the group: without it the panic would end the
// process, where without group commit it ends one request.
func (g *groupCommitter) commitSafely(group []*cardCall) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("group commit: panic: %v", r)
			for _, c := range group {
				select {
				case c.done <- err:
				default: // answered already
				}
			}
		}
	}()
	g.commit(group)
}

// commit writes a group and answers its calls.
func (g *groupCommitter) commit(group []*cardCall) {
	g.groups.Add(1)
	g.batches.Add(int64(len(group)))
	if n := int64(len(group)); n > g.maxSize.Load() {
		g.maxSize.Store(n)
	}
	results := make([]error, len(group))
	if len(group) == 1 {
		// Alone: the ordinary transaction, no savepoint needed.
		c := group[0]
		if results[0] = c.ctx.Err(); results[0] == nil {
			results[0] = g.s.inTx(c.ctx, func(tx *sql.Tx) error {
				if err := g.s.insertCardBatch(c.ctx, tx, c.b); err != nil {
					return err
				}
				return g.hook(1)
			})
		}
	} else if err := g.commitTx(group, results); err != nil {
		// Nothing of the group was committed: each batch again, alone.
		for i, c := range group {
			if results[i] = c.ctx.Err(); results[i] == nil {
				results[i] = g.s.inTx(c.ctx, func(tx *sql.Tx) error { return g.s.insertCardBatch(c.ctx, tx, c.b) })
			}
		}
	}
	for i, c := range group {
		c.done <- results[i]
	}
}

// commitTx writes the batches of group in one transaction, each under a
// savepoint, recording each batch's own error in results. It returns an
// error when the transaction as a whole failed: then nothing was committed
// and results mean nothing.
func (g *groupCommitter) commitTx(group []*cardCall, results []error) error {
	ctx := context.Background()
	tx, err := g.s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after a panic; ErrTxDone once committed or rolled back
	savepoint := tx.StmtContext(ctx, g.savepoint)
	release := tx.StmtContext(ctx, g.release)
	rollbackTo := tx.StmtContext(ctx, g.rollbackTo)
	fail := func(err error) error {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, rerr)
		}
		return err
	}
	for i, c := range group {
		if results[i] = c.ctx.Err(); results[i] != nil {
			continue // the caller has gone: skip it
		}
		if _, err := savepoint.ExecContext(ctx); err != nil {
			return fail(err)
		}
		if results[i] = g.s.insertCardBatch(ctx, tx, c.b); results[i] != nil {
			if _, err := rollbackTo.ExecContext(ctx); err != nil {
				return fail(err)
			}
		}
		if _, err := release.ExecContext(ctx); err != nil {
			return fail(err)
		}
	}
	if err := g.hook(len(group)); err != nil {
		return fail(err)
	}
	return tx.Commit()
}

// hook calls beforeCommit, if set.
func (g *groupCommitter) hook(n int) error {
	if g.beforeCommit == nil {
		return nil
	}
	return g.beforeCommit(n)
}
