package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"ekbom"
)

// DefaultFeedbackLimit is the number of feedback entries ListFeedback
// returns for a limit of 0.
const DefaultFeedbackLimit = 100

var indicators = map[string]bool{ekbom.IndicatorInfo: true, ekbom.IndicatorWarning: true, ekbom.IndicatorCritical: true}

// maxCDSText bounds the free-text fields of CDS records (characters).
const maxCDSText = 2000

// SaveCardsServed stores a card batch with its cards and, in the same
// transaction, its audit entry. The batch ID is the caller's; a second batch
// with the same ID is ErrConflict and changes nothing. It returns once the
// transaction is committed; with Options.GroupCommit that transaction may
// hold the batches of other calls as well.
func (s *Store) SaveCardsServed(ctx context.Context, b ekbom.CardBatch) error {
	var verr ekbom.ValidationError
	if !hexID(b.ID) {
		verr.Add("id", "want 32 lowercase hex digits")
	}
	for _, f := range []struct{ path, v string }{
		{"service_id", b.ServiceID}, {"hook", b.Hook}, {"hook_instance", b.HookInstance},
		{"actor", b.Actor}, {"engine_version", b.EngineVersion}, {"knowledge_version", b.KnowledgeVersion},
	} {
		if strings.TrimSpace(f.v) == "" {
			verr.Add(f.path, "is required")
		} else if len(f.v) > 200 {
			verr.Add(f.path, "is longer than 200 bytes")
		}
	}
	if len(b.PatientRef) > 200 {
		verr.Add("patient_ref", "is longer than 200 bytes")
	}
	for i, c := range b.Cards {
		if c.UUID == "" || len(c.UUID) > 100 {
			verr.Add(fmt.Sprintf("cards[%d].uuid", i), "is required (at most 100 bytes)")
		}
		if c.Summary == "" || utf8.RuneCountInString(c.Summary) > maxCDSText {
			verr.Add(fmt.Sprintf("cards[%d].summary", i), "is required (at most %d characters)", maxCDSText)
		}
		if !indicators[c.Indicator] {
			verr.Add(fmt.Sprintf("cards[%d].indicator", i), "is %q; want info, warning or critical", c.Indicator)
		}
	}
	if len(b.Plan) > 0 && !validJSON(b.Plan) {
		verr.Add("plan", "is not valid JSON")
	}
	if err := verr.Err(); err != nil {
		return fmt.Errorf("sqlstore: save cards served: %w", err)
	}
	var err error
	if s.group != nil {
		err = s.group.save(ctx, &b)
	} else {
		err = s.inTx(ctx, func(tx *sql.Tx) error { return s.insertCardBatch(ctx, tx, &b) })
	}
	if err != nil {
		return fmt.Errorf("sqlstore: save cards served: %w", err)
	}
	return nil
}

// insertCardBatch writes a validated card batch, its cards and its audit
// entry in tx.
func (s *Store) insertCardBatch(ctx context.Context, tx *sql.Tx, b *ekbom.CardBatch) error {
	var plan any
	if len(b.Plan) > 0 {
		plan = string(b.Plan)
	}
	now := s.now()
	_, err := tx.StmtContext(ctx, s.st.batch).ExecContext(ctx,
		b.ID, b.ServiceID, b.Hook, b.HookInstance, b.PatientRef, b.Actor, b.EngineVersion, b.KnowledgeVersion, plan, s.timeArg(now))
	if err != nil {
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("batch %s exists: %w", b.ID, ekbom.ErrConflict)
		}
		return err
	}
	// The cards go in one INSERT of several rows (several INSERTs beyond
	// maxCardsPerInsert cards).
	args := make([]any, 0, 5*min(len(b.Cards), maxCardsPerInsert))
	for start := 0; start < len(b.Cards); start += maxCardsPerInsert {
		chunk := b.Cards[start:min(start+maxCardsPerInsert, len(b.Cards))]
		args = args[:0]
		for i, c := range chunk {
			args = append(args, b.ID, start+i, c.UUID, c.Summary, c.Indicator)
		}
		if _, err := tx.StmtContext(ctx, s.st.cards[len(chunk)-1]).ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	detail := fmt.Sprintf("hook=%s service=%s instance=%s engine=%s kb=%s cards=%d",
		b.Hook, b.ServiceID, b.HookInstance, b.EngineVersion, b.KnowledgeVersion, len(b.Cards))
	return s.audit(ctx, tx, now, b.Actor, "serve", "cds", b.ID, detail)
}

// GetCardBatch returns a card batch with its cards in the order served.
func (s *Store) GetCardBatch(ctx context.Context, id string) (*ekbom.CardBatch, error) {
	var b ekbom.CardBatch
	var plan []byte
	err := s.read.QueryRowContext(ctx, s.q(`SELECT id, service_id, hook, hook_instance, patient_ref, actor,
	engine_version, knowledge_version, plan, created_at FROM cds_batches WHERE id = ?`), id).Scan(
		&b.ID, &b.ServiceID, &b.Hook, &b.HookInstance, &b.PatientRef, &b.Actor,
		&b.EngineVersion, &b.KnowledgeVersion, &plan, timeCol{&b.CreatedAt})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get card batch %s: %w", id, notFound(err))
	}
	if len(plan) > 0 {
		b.Plan = plan
	}
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT uuid, summary, indicator FROM cds_cards WHERE batch_id = ? ORDER BY position`), id)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get card batch %s: %w", id, err)
	}
	defer rows.Close()
	b.Cards = []ekbom.CardServed{}
	for rows.Next() {
		var c ekbom.CardServed
		if err := rows.Scan(&c.UUID, &c.Summary, &c.Indicator); err != nil {
			return nil, fmt.Errorf("sqlstore: get card batch %s: %w", id, err)
		}
		b.Cards = append(b.Cards, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: get card batch %s: %w", id, err)
	}
	return &b, nil
}

// SaveFeedback stores feedback on a card once: the same (service, card,
// outcome, outcome time) again returns created false and changes nothing.
func (s *Store) SaveFeedback(ctx context.Context, f ekbom.Feedback) (bool, error) {
	var verr ekbom.ValidationError
	for _, x := range []struct{ path, v string }{{"service_id", f.ServiceID}, {"card_uuid", f.CardUUID}, {"actor", f.Actor}} {
		if strings.TrimSpace(x.v) == "" {
			verr.Add(x.path, "is required")
		} else if len(x.v) > 200 {
			verr.Add(x.path, "is longer than 200 bytes")
		}
	}
	switch f.Outcome {
	case ekbom.FeedbackAccepted:
		if len(f.AcceptedSuggestions) == 0 {
			verr.Add("accepted_suggestions", "is required for an accepted outcome")
		}
	case ekbom.FeedbackOverridden:
	default:
		verr.Add("outcome", "is %q; want accepted or overridden", f.Outcome)
	}
	if f.OutcomeAt.IsZero() {
		verr.Add("outcome_at", "is required")
	}
	for _, x := range []struct{ path, v string }{
		{"override_system", f.OverrideSystem}, {"override_code", f.OverrideCode},
		{"override_display", f.OverrideDisplay}, {"user_comment", f.UserComment},
	} {
		if utf8.RuneCountInString(x.v) > maxCDSText {
			verr.Add(x.path, "is longer than %d characters", maxCDSText)
		}
	}
	if err := verr.Err(); err != nil {
		return false, fmt.Errorf("sqlstore: save feedback: %w", err)
	}
	accepted := f.AcceptedSuggestions
	if accepted == nil {
		accepted = []string{}
	}
	acc, err := json.Marshal(accepted)
	if err != nil {
		return false, fmt.Errorf("sqlstore: save feedback: %w", err)
	}
	now := s.now()
	created := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO cds_feedback
	(service_id, card_uuid, outcome, accepted_suggestions, override_system, override_code, override_display,
	 user_comment, outcome_at, actor, received_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (service_id, card_uuid, outcome, outcome_at) DO NOTHING
	RETURNING id`),
			f.ServiceID, f.CardUUID, f.Outcome, string(acc), f.OverrideSystem, f.OverrideCode, f.OverrideDisplay,
			f.UserComment, s.timeArg(f.OutcomeAt), f.Actor, s.timeArg(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // stored before
		}
		if err != nil {
			return err
		}
		created = true
		detail := fmt.Sprintf("service=%s card=%s outcome=%s", f.ServiceID, f.CardUUID, f.Outcome)
		if f.OverrideCode != "" {
			detail += " reason=" + f.OverrideCode
		}
		return s.audit(ctx, tx, now, f.Actor, "feedback", "cds", fmt.Sprint(id), detail)
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: save feedback: %w", err)
	}
	return created, nil
}

// ListFeedback returns the feedback on a service's cards, newest first.
func (s *Store) ListFeedback(ctx context.Context, serviceID string, lim int) ([]ekbom.Feedback, error) {
	n, err := limit(lim, DefaultFeedbackLimit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list feedback: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT id, service_id, card_uuid, outcome, accepted_suggestions,
	override_system, override_code, override_display, user_comment, outcome_at, actor, received_at
	FROM cds_feedback WHERE service_id = ? ORDER BY id DESC LIMIT ?`), serviceID, n)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list feedback: %w", err)
	}
	defer rows.Close()
	out := []ekbom.Feedback{}
	for rows.Next() {
		var f ekbom.Feedback
		var acc []byte
		if err := rows.Scan(&f.ID, &f.ServiceID, &f.CardUUID, &f.Outcome, &acc, &f.OverrideSystem, &f.OverrideCode,
			&f.OverrideDisplay, &f.UserComment, timeCol{&f.OutcomeAt}, &f.Actor, timeCol{&f.ReceivedAt}); err != nil {
			return nil, fmt.Errorf("sqlstore: list feedback: %w", err)
		}
		if err := json.Unmarshal(acc, &f.AcceptedSuggestions); err != nil {
			return nil, fmt.Errorf("sqlstore: list feedback %d: accepted suggestions: %w", f.ID, err)
		}
		if len(f.AcceptedSuggestions) == 0 {
			f.AcceptedSuggestions = nil
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list feedback: %w", err)
	}
	return out, nil
}

// hexID reports whether id is 32 lowercase hex digits.
func hexID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
