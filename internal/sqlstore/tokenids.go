package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"ekbom"
)

// tokenPruneEvery is how often expired token ids are deleted.
const tokenPruneEvery = time.Minute

// ClaimTokenID records a CDS Hooks token id until it expires; see
// ekbom.Store. One statement: the INSERT takes a new id, or an expired one
// over (ON CONFLICT … DO UPDATE … WHERE the stored one has expired), and
// changes nothing for an id still valid, which is a replay. The id is kept
// as its SHA-256 (fixed length, and PostgreSQL text holds no NUL byte).
// Expired ids are deleted at most once a minute per store.
func (s *Store) ClaimTokenID(ctx context.Context, id string, expires, now time.Time) (bool, error) {
	var verr ekbom.ValidationError
	if id == "" {
		verr.Add("id", "is required")
	}
	if expires.IsZero() {
		verr.Add("expires", "is required")
	}
	if now.IsZero() {
		verr.Add("now", "is required")
	}
	if err := verr.Err(); err != nil {
		return false, fmt.Errorf("sqlstore: claim token id: %w", err)
	}
	sum := sha256.Sum256([]byte(id))
	key := hex.EncodeToString(sum[:])
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO cds_token_ids (id, expires_at) VALUES (?, ?)
	ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE cds_token_ids.expires_at < ?`),
		key, s.timeArg(expires), s.timeArg(now))
	if err != nil {
		return false, fmt.Errorf("sqlstore: claim token id: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: claim token id: %w", err)
	}
	if next := s.tokenPrune.Load(); now.UnixNano() >= next && s.tokenPrune.CompareAndSwap(next, now.Add(tokenPruneEvery).UnixNano()) {
		// A failed sweep is retried at the next one; the claim stands.
		s.db.ExecContext(ctx, s.q(`DELETE FROM cds_token_ids WHERE expires_at < ?`), s.timeArg(now))
	}
	return n == 1, nil
}
