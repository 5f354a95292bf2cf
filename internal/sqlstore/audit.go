package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"ekbom"
)

// AppendAudit adds an entry to the audit log. Actor, Action and Entity are
// required; a zero At means now. The ID is assigned by the database.
func (s *Store) AppendAudit(ctx context.Context, e ekbom.AuditEntry) error {
	var verr ekbom.ValidationError
	if strings.TrimSpace(e.Actor) == "" {
		verr.Add("actor", "is required")
	}
	if e.Action == "" {
		verr.Add("action", "is required")
	}
	if e.Entity == "" {
		verr.Add("entity", "is required")
	}
	if err := verr.Err(); err != nil {
		return fmt.Errorf("sqlstore: append audit: %w", err)
	}
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	_, err := s.st.audit.ExecContext(ctx, s.timeArg(at), e.Actor, e.Action, e.Entity, e.EntityID, e.Detail)
	if err != nil {
		return fmt.Errorf("sqlstore: append audit: %w", err)
	}
	return nil
}

// ListAudit returns audit entries matching f, newest (last appended) first.
func (s *Store) ListAudit(ctx context.Context, f ekbom.AuditFilter) ([]ekbom.AuditEntry, error) {
	n, err := limit(f.Limit, DefaultAuditLimit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{{"entity", f.Entity}, {"entity_id", f.EntityID}, {"actor", f.Actor}} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	query := `SELECT id, at, actor, action, entity, entity_id, detail FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, n)
	rows, err := s.read.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	defer rows.Close()
	out := []ekbom.AuditEntry{}
	for rows.Next() {
		var e ekbom.AuditEntry
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.Action, &e.Entity, &e.EntityID, &e.Detail); err != nil {
			return nil, fmt.Errorf("sqlstore: list audit: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	return out, nil
}
