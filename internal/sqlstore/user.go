package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"ekbom"
)

const userCols = `id, username, name, role, password_hash, disabled, created_at`

func scanUser(sc scanner) (*ekbom.User, error) {
	var u ekbom.User
	var role string
	err := sc.Scan(&u.ID, &u.Username, &u.Name, &role, &u.PasswordHash, &u.Disabled, timeCol{&u.CreatedAt})
	if err != nil {
		return nil, err
	}
	u.Role = ekbom.Role(role)
	return &u, nil
}

func cleanUser(u *ekbom.User) error {
	if u == nil {
		return fmt.Errorf("nil user: %w", ekbom.ErrInvalid)
	}
	u.Username = strings.TrimSpace(u.Username)
	var verr ekbom.ValidationError
	if u.Username == "" {
		verr.Add("username", "is required")
	}
	switch u.Role {
	case ekbom.RoleClinician, ekbom.RoleAdmin:
	default:
		verr.Add("role", "must be %s or %s, not %q", ekbom.RoleClinician, ekbom.RoleAdmin, u.Role)
	}
	return verr.Err()
}

// CreateUser stores a new user, setting its ID and CreatedAt. Usernames are
// trimmed and unique case-insensitively (else ErrConflict).
func (s *Store) CreateUser(ctx context.Context, u *ekbom.User) error {
	if err := cleanUser(u); err != nil {
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	id, err := newID()
	if err != nil {
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	now := s.now()
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO users
	(id, username, username_key, name, role, password_hash, disabled, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		id, u.Username, key(u.Username), u.Name, string(u.Role), u.PasswordHash, u.Disabled, s.timeArg(now))
	if err != nil {
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("sqlstore: create user: username already in use: %w", ekbom.ErrConflict)
		}
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	u.ID, u.CreatedAt = id, now
	return nil
}

// GetUser returns the user with the given ID.
func (s *Store) GetUser(ctx context.Context, id string) (*ekbom.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get user %s: %w", id, notFound(err))
	}
	return u, nil
}

// GetUserByUsername returns the user with the given username, compared
// case-insensitively.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*ekbom.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE username_key = ?`), key(username)))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get user by username: %w", notFound(err))
	}
	return u, nil
}

// ListUsers returns every user ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]ekbom.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username_key`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	defer rows.Close()
	out := []ekbom.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list users: %w", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	return out, nil
}

// UpdateUser saves the username, name, role, disabled flag and password hash
// of u. An empty PasswordHash keeps the stored one, so a user decoded from
// JSON (where the hash is never present) does not lose its password.
func (s *Store) UpdateUser(ctx context.Context, u *ekbom.User) error {
	if err := cleanUser(u); err != nil {
		return fmt.Errorf("sqlstore: update user: %w", err)
	}
	var hash string
	err := s.db.QueryRowContext(ctx, s.q(`UPDATE users SET
	username = ?, username_key = ?, name = ?, role = ?,
	password_hash = CASE WHEN ? = '' THEN password_hash ELSE ? END, disabled = ?
	WHERE id = ?
	RETURNING password_hash, created_at`),
		u.Username, key(u.Username), u.Name, string(u.Role), u.PasswordHash, u.PasswordHash, u.Disabled, u.ID).
		Scan(&hash, timeCol{&u.CreatedAt})
	if err != nil {
		if s.d.IsUniqueViolation(err) {
			return fmt.Errorf("sqlstore: update user %s: username already in use: %w", u.ID, ekbom.ErrConflict)
		}
		return fmt.Errorf("sqlstore: update user %s: %w", u.ID, notFound(err))
	}
	u.PasswordHash = hash
	return nil
}

// CountUsers returns the number of users (zero means first-run setup).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count users: %w", err)
	}
	return n, nil
}
