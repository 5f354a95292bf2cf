package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"ekbom"
)

// CreateSession stores a session for an existing user (else ErrNotFound). A
// zero CreatedAt means now; ExpiresAt is required. Times are stored in UTC
// to the microsecond and s is updated to match.
func (s *Store) CreateSession(ctx context.Context, sess *ekbom.Session) error {
	if sess == nil {
		return fmt.Errorf("sqlstore: create session: nil session: %w", ekbom.ErrInvalid)
	}
	var verr ekbom.ValidationError
	if sess.TokenHash == "" {
		verr.Add("token_hash", "is required")
	}
	if sess.UserID == "" {
		verr.Add("user_id", "is required")
	}
	if sess.ExpiresAt.IsZero() {
		verr.Add("expires_at", "is required")
	}
	if err := verr.Err(); err != nil {
		return fmt.Errorf("sqlstore: create session: %w", err)
	}
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = s.now()
	}
	sess.CreatedAt = sess.CreatedAt.UTC().Truncate(time.Microsecond)
	sess.ExpiresAt = sess.ExpiresAt.UTC().Truncate(time.Microsecond)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		sess.TokenHash, sess.UserID, sess.CSRF, s.timeArg(sess.CreatedAt), s.timeArg(sess.ExpiresAt))
	switch {
	case err == nil:
		return nil
	case s.d.IsUniqueViolation(err):
		return fmt.Errorf("sqlstore: create session: token already in use: %w", ekbom.ErrConflict)
	case s.d.IsForeignKeyViolation(err):
		return fmt.Errorf("sqlstore: create session: user %s: %w", sess.UserID, ekbom.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: create session: %w", err)
}

// GetSession returns the session with the given token hash, or ErrNotFound
// if there is none or it has expired.
func (s *Store) GetSession(ctx context.Context, tokenHash string) (*ekbom.Session, error) {
	var sess ekbom.Session
	err := s.read.QueryRowContext(ctx, s.q(`SELECT token_hash, user_id, csrf, created_at, expires_at FROM sessions WHERE token_hash = ?`), tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &sess.CSRF, timeCol{&sess.CreatedAt}, timeCol{&sess.ExpiresAt})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get session: %w", notFound(err))
	}
	if !sess.ExpiresAt.After(time.Now()) {
		return nil, fmt.Errorf("sqlstore: get session: expired: %w", ekbom.ErrNotFound)
	}
	return &sess, nil
}

// DeleteSession removes a session; ErrNotFound if there is none.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE token_hash = ?`), tokenHash)
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions that expire at or before now
// and returns how many there were.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE expires_at <= ?`), s.timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete expired sessions: %w", err)
	}
	return int(n), nil
}

// oneRow returns ErrNotFound when a statement changed no row.
func oneRow(res interface{ RowsAffected() (int64, error) }) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ekbom.ErrNotFound
	}
	return nil
}

const tokenCols = `id, user_id, name, hash, created_at, last_used`

func scanToken(sc scanner) (*ekbom.APIToken, error) {
	var t ekbom.APIToken
	err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, timeCol{&t.CreatedAt}, nullTimeCol{&t.LastUsed})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateAPIToken stores a token of an existing user (else ErrNotFound),
// setting its ID and, when zero, CreatedAt. The hash must be unique.
func (s *Store) CreateAPIToken(ctx context.Context, t *ekbom.APIToken) error {
	if t == nil {
		return fmt.Errorf("sqlstore: create api token: nil token: %w", ekbom.ErrInvalid)
	}
	var verr ekbom.ValidationError
	if t.UserID == "" {
		verr.Add("user_id", "is required")
	}
	if strings.TrimSpace(t.Name) == "" {
		verr.Add("name", "is required")
	}
	if t.Hash == "" {
		verr.Add("hash", "is required")
	}
	if err := verr.Err(); err != nil {
		return fmt.Errorf("sqlstore: create api token: %w", err)
	}
	id, err := newID()
	if err != nil {
		return fmt.Errorf("sqlstore: create api token: %w", err)
	}
	created := t.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	created = created.UTC().Truncate(time.Microsecond)
	var lastUsed any
	if t.LastUsed != nil {
		lu := t.LastUsed.UTC().Truncate(time.Microsecond)
		t.LastUsed, lastUsed = &lu, s.timeArg(lu)
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO api_tokens (id, user_id, name, hash, created_at, last_used) VALUES (?, ?, ?, ?, ?, ?)`),
		id, t.UserID, t.Name, t.Hash, s.timeArg(created), lastUsed)
	switch {
	case err == nil:
		t.ID, t.CreatedAt = id, created
		return nil
	case s.d.IsUniqueViolation(err):
		return fmt.Errorf("sqlstore: create api token: hash already in use: %w", ekbom.ErrConflict)
	case s.d.IsForeignKeyViolation(err):
		return fmt.Errorf("sqlstore: create api token: user %s: %w", t.UserID, ekbom.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: create api token: %w", err)
}

// GetAPITokenByHash returns the token with the given hash.
func (s *Store) GetAPITokenByHash(ctx context.Context, hash string) (*ekbom.APIToken, error) {
	t, err := scanToken(s.read.QueryRowContext(ctx, s.q(`SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`), hash))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get api token by hash: %w", notFound(err))
	}
	return t, nil
}

// ListAPITokens returns the tokens of a user, oldest first.
func (s *Store) ListAPITokens(ctx context.Context, userID string) ([]ekbom.APIToken, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+tokenCols+` FROM api_tokens WHERE user_id = ? ORDER BY created_at, id`), userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list api tokens: %w", err)
	}
	defer rows.Close()
	out := []ekbom.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list api tokens: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list api tokens: %w", err)
	}
	return out, nil
}

// DeleteAPIToken removes a token; ErrNotFound if there is none.
func (s *Store) DeleteAPIToken(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM api_tokens WHERE id = ?`), id)
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: delete api token %s: %w", id, err)
	}
	return nil
}

// TouchAPIToken records that a token was used at the given time.
func (s *Store) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE api_tokens SET last_used = ? WHERE id = ?`), s.timeArg(at), id)
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: touch api token %s: %w", id, err)
	}
	return nil
}
