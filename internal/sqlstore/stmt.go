package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Statements of the hot write paths are prepared once, by New, instead of
// on every call: SQLite spends more time compiling a short INSERT than
// running it. A *sql.Stmt from the pool is bound to a transaction with
// Tx.StmtContext, which reuses the statement already prepared on the
// transaction's connection, or prepares it there once. They are prepared
// in New, before any transaction, because preparing on the pool needs a
// free connection and SQLite's writer pool has only one, which a running
// transaction holds.

// maxCardsPerInsert is the number of cards one INSERT of cds_cards writes
// at most; larger batches take several.
const maxCardsPerInsert = 8

// Queries of the prepared statements, with ? placeholders.
const (
	insertAuditSQL = `INSERT INTO audit_log (at, actor, action, entity, entity_id, detail) VALUES (?, ?, ?, ?, ?, ?)`
	insertBatchSQL = `INSERT INTO cds_batches
	(id, service_id, hook, hook_instance, patient_ref, actor, engine_version, knowledge_version, plan, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertCardsSQL = `INSERT INTO cds_cards (batch_id, position, uuid, summary, indicator) VALUES `
	cardRowSQL     = `(?, ?, ?, ?, ?)`
)

// stmts are the statements New prepares.
type stmts struct {
	audit *sql.Stmt
	batch *sql.Stmt
	// cards[n-1] inserts n cards.
	cards [maxCardsPerInsert]*sql.Stmt
}

// prepare prepares the statements on the read-write pool. On an error it
// closes those already prepared.
func (s *Store) prepare(ctx context.Context) error {
	type target struct {
		query string
		dst   **sql.Stmt
	}
	targets := []target{{insertAuditSQL, &s.st.audit}, {insertBatchSQL, &s.st.batch}}
	for n := 1; n <= maxCardsPerInsert; n++ {
		q := insertCardsSQL + strings.Repeat(cardRowSQL+", ", n-1) + cardRowSQL
		targets = append(targets, target{q, &s.st.cards[n-1]})
	}
	for _, t := range targets {
		st, err := s.db.PrepareContext(ctx, s.q(t.query))
		if err != nil {
			s.st.close()
			s.st = stmts{}
			return fmt.Errorf("sqlstore: prepare %s: %w", firstLine(t.query), err)
		}
		*t.dst = st
	}
	return nil
}

// close closes the prepared statements.
func (st *stmts) close() error {
	var errs []error
	for _, x := range append([]*sql.Stmt{st.audit, st.batch}, st.cards[:]...) {
		if x != nil {
			errs = append(errs, x.Close())
		}
	}
	return errors.Join(errs...)
}

// firstLine is the first line of a query, for error messages.
func firstLine(query string) string {
	line, _, _ := strings.Cut(query, "\n")
	return strings.TrimSpace(line)
}
