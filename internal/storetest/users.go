package storetest

import (
	"testing"
	"time"

	"ekbom"
)

func testUsers(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	n, err := s.CountUsers(c)
	noErr(t, err, "count")
	if n != 0 {
		t.Fatalf("new store has %d users", n)
	}
	a := &ekbom.User{Username: " Alice ", Name: "Dr Alice Ek", Role: ekbom.RoleClinician, PasswordHash: "hash-a"}
	noErr(t, s.CreateUser(c, a), "create")
	checkID(t, a.ID, "user")
	if a.Username != "Alice" || a.CreatedAt.IsZero() {
		t.Errorf("after create: username %q created %v", a.Username, a.CreatedAt)
	}
	got, err := s.GetUser(c, a.ID)
	noErr(t, err, "get")
	if d := diff(a, got); d != "" {
		t.Errorf("get (-want +got):\n%s", d)
	}
	for _, name := range []string{"Alice", "alice", "  ALICE "} {
		got, err := s.GetUserByUsername(c, name)
		noErr(t, err, "get by username "+name)
		if d := diff(a, got); d != "" {
			t.Errorf("get by username %q (-want +got):\n%s", name, d)
		}
	}

	wantErr(t, s.CreateUser(c, &ekbom.User{Username: "alice", Role: ekbom.RoleAdmin}), ekbom.ErrConflict, "same username in other case")
	wantErr(t, s.CreateUser(c, &ekbom.User{Username: "carl", Role: "root"}), ekbom.ErrInvalid, "unknown role")
	wantErr(t, s.CreateUser(c, &ekbom.User{Username: " ", Role: ekbom.RoleAdmin}), ekbom.ErrInvalid, "blank username")
	wantErr(t, s.CreateUser(c, nil), ekbom.ErrInvalid, "nil user")

	b := &ekbom.User{Username: "bob", Role: ekbom.RoleAdmin, PasswordHash: "hash-b"}
	noErr(t, s.CreateUser(c, b), "create bob")
	users, err := s.ListUsers(c)
	noErr(t, err, "list")
	if d := diff([]ekbom.User{*a, *b}, users); d != "" {
		t.Errorf("list (-want +got):\n%s", d)
	}
	n, err = s.CountUsers(c)
	noErr(t, err, "count")
	if n != 2 {
		t.Errorf("count = %d, want 2", n)
	}

	// Role and disabled change; an empty hash keeps the password.
	edit := &ekbom.User{ID: a.ID, Username: "alice", Name: "Dr A. Ek", Role: ekbom.RoleAdmin, Disabled: true}
	noErr(t, s.UpdateUser(c, edit), "update")
	got, err = s.GetUser(c, a.ID)
	noErr(t, err, "get after update")
	want := ekbom.User{ID: a.ID, Username: "alice", Name: "Dr A. Ek", Role: ekbom.RoleAdmin, PasswordHash: "hash-a", Disabled: true, CreatedAt: a.CreatedAt}
	if d := diff(&want, got); d != "" {
		t.Errorf("after update (-want +got):\n%s", d)
	}
	if d := diff(&want, edit); d != "" {
		t.Errorf("updated value (-want +got):\n%s", d)
	}
	got.PasswordHash, got.Disabled = "hash-a2", false
	noErr(t, s.UpdateUser(c, got), "new password, enable")
	again, err := s.GetUser(c, a.ID)
	noErr(t, err, "get")
	if again.PasswordHash != "hash-a2" || again.Disabled {
		t.Errorf("after second update: hash %q disabled %v", again.PasswordHash, again.Disabled)
	}

	b.Username = "ALICE"
	wantErr(t, s.UpdateUser(c, b), ekbom.ErrConflict, "rename to a used username")
	wantErr(t, s.UpdateUser(c, &ekbom.User{ID: "nope", Username: "zed", Role: ekbom.RoleAdmin}), ekbom.ErrNotFound, "update unknown")
	_, err = s.GetUser(c, "nope")
	wantErr(t, err, ekbom.ErrNotFound, "get unknown")
	_, err = s.GetUserByUsername(c, "zed")
	wantErr(t, err, ekbom.ErrNotFound, "get unknown username")
}

func testSessions(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	u := createUser(t, s, "sessionuser")
	created := time.Date(2026, time.March, 14, 10, 0, 0, 500000000, time.UTC)
	live := &ekbom.Session{TokenHash: "h-live", UserID: u.ID, CSRF: "csrf-1", CreatedAt: created,
		ExpiresAt: time.Date(2099, time.January, 1, 0, 0, 0, 123456000, time.UTC)}
	expired := &ekbom.Session{TokenHash: "h-expired", UserID: u.ID, CSRF: "csrf-2", CreatedAt: created,
		ExpiresAt: time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)}
	later := &ekbom.Session{TokenHash: "h-later", UserID: u.ID, CSRF: "csrf-3",
		ExpiresAt: time.Date(2031, time.June, 1, 12, 0, 0, 0, time.FixedZone("EST", -5*3600))}
	for _, sess := range []*ekbom.Session{live, expired, later} {
		noErr(t, s.CreateSession(c, sess), "create session "+sess.TokenHash)
	}
	if later.CreatedAt.IsZero() {
		t.Error("zero CreatedAt not set")
	}

	got, err := s.GetSession(c, "h-live")
	noErr(t, err, "get")
	if d := diff(live, got); d != "" {
		t.Errorf("get (-want +got):\n%s", d)
	}
	got, err = s.GetSession(c, "h-later")
	noErr(t, err, "get later")
	if !got.ExpiresAt.Equal(later.ExpiresAt) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("expires %v, want %v in UTC", got.ExpiresAt, later.ExpiresAt)
	}
	_, err = s.GetSession(c, "h-expired")
	wantErr(t, err, ekbom.ErrNotFound, "get expired")
	_, err = s.GetSession(c, "h-none")
	wantErr(t, err, ekbom.ErrNotFound, "get unknown")

	wantErr(t, s.CreateSession(c, &ekbom.Session{TokenHash: "h-live", UserID: u.ID, ExpiresAt: live.ExpiresAt}), ekbom.ErrConflict, "same token")
	wantErr(t, s.CreateSession(c, &ekbom.Session{TokenHash: "h-x", UserID: "nope", ExpiresAt: live.ExpiresAt}), ekbom.ErrNotFound, "unknown user")
	wantErr(t, s.CreateSession(c, &ekbom.Session{TokenHash: "h-x", UserID: u.ID}), ekbom.ErrInvalid, "no expiry")
	wantErr(t, s.CreateSession(c, &ekbom.Session{UserID: u.ID, ExpiresAt: live.ExpiresAt}), ekbom.ErrInvalid, "no token")

	cutoff := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	n, err := s.DeleteExpiredSessions(c, cutoff)
	noErr(t, err, "delete expired")
	if n != 1 {
		t.Errorf("deleted %d expired sessions, want 1", n)
	}
	n, err = s.DeleteExpiredSessions(c, cutoff)
	noErr(t, err, "delete expired again")
	if n != 0 {
		t.Errorf("second sweep deleted %d, want 0", n)
	}
	// Expiry is inclusive: a session expiring exactly at now is gone.
	n, err = s.DeleteExpiredSessions(c, later.ExpiresAt)
	noErr(t, err, "delete at expiry")
	if n != 1 {
		t.Errorf("sweep at the exact expiry deleted %d, want 1", n)
	}

	noErr(t, s.DeleteSession(c, "h-live"), "delete")
	_, err = s.GetSession(c, "h-live")
	wantErr(t, err, ekbom.ErrNotFound, "get deleted")
	wantErr(t, s.DeleteSession(c, "h-live"), ekbom.ErrNotFound, "delete twice")
}

func testAPITokens(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	u := createUser(t, s, "tokenuser")
	other := createUser(t, s, "otheruser")
	t1 := &ekbom.APIToken{UserID: u.ID, Name: "ehr-bridge", Hash: "th-1", CreatedAt: time.Date(2026, time.March, 1, 8, 0, 0, 0, time.UTC)}
	t2 := &ekbom.APIToken{UserID: u.ID, Name: "scripts", Hash: "th-2", CreatedAt: time.Date(2026, time.March, 2, 8, 0, 0, 0, time.UTC)}
	t3 := &ekbom.APIToken{UserID: other.ID, Name: "other", Hash: "th-3"}
	for _, tok := range []*ekbom.APIToken{t2, t1, t3} {
		noErr(t, s.CreateAPIToken(c, tok), "create token "+tok.Name)
		checkID(t, tok.ID, "token")
	}
	if t3.CreatedAt.IsZero() {
		t.Error("zero CreatedAt not set")
	}
	got, err := s.GetAPITokenByHash(c, "th-1")
	noErr(t, err, "get by hash")
	if d := diff(t1, got); d != "" {
		t.Errorf("get (-want +got):\n%s", d)
	}
	list, err := s.ListAPITokens(c, u.ID)
	noErr(t, err, "list")
	if d := diff([]ekbom.APIToken{*t1, *t2}, list); d != "" {
		t.Errorf("list, oldest first (-want +got):\n%s", d)
	}

	used := time.Date(2026, time.March, 14, 12, 0, 0, 654321000, time.UTC)
	noErr(t, s.TouchAPIToken(c, t1.ID, used), "touch")
	got, err = s.GetAPITokenByHash(c, "th-1")
	noErr(t, err, "get after touch")
	if got.LastUsed == nil || !got.LastUsed.Equal(used) || got.LastUsed.Location() != time.UTC {
		t.Errorf("last used %v, want %v", got.LastUsed, used)
	}
	wantErr(t, s.TouchAPIToken(c, "nope", used), ekbom.ErrNotFound, "touch unknown")

	wantErr(t, s.CreateAPIToken(c, &ekbom.APIToken{UserID: u.ID, Name: "dup", Hash: "th-1"}), ekbom.ErrConflict, "same hash")
	wantErr(t, s.CreateAPIToken(c, &ekbom.APIToken{UserID: "nope", Name: "x", Hash: "th-x"}), ekbom.ErrNotFound, "unknown user")
	wantErr(t, s.CreateAPIToken(c, &ekbom.APIToken{UserID: u.ID, Hash: "th-y"}), ekbom.ErrInvalid, "no name")
	wantErr(t, s.CreateAPIToken(c, &ekbom.APIToken{UserID: u.ID, Name: "x"}), ekbom.ErrInvalid, "no hash")

	noErr(t, s.DeleteAPIToken(c, t1.ID), "delete")
	_, err = s.GetAPITokenByHash(c, "th-1")
	wantErr(t, err, ekbom.ErrNotFound, "get deleted")
	wantErr(t, s.DeleteAPIToken(c, t1.ID), ekbom.ErrNotFound, "delete twice")
	list, err = s.ListAPITokens(c, u.ID)
	noErr(t, err, "list after delete")
	if d := diff([]ekbom.APIToken{*t2}, list); d != "" {
		t.Errorf("list after delete (-want +got):\n%s", d)
	}
}
