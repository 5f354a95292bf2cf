package ekbom

import (
	"context"
	"encoding/json"
	"time"
)

// Record types for the longitudinal patient records kept by `ekbom serve`.
// Identifiers are opaque strings created by the store.

// PatientRecord is a patient known to the clinic. The clinical facts live in
// the visits; the record holds who the patient is.
type PatientRecord struct {
	ID        string    `json:"id"`
	MRN       string    `json:"mrn,omitempty"` // clinic identifier, unique when set
	Name      string    `json:"name"`          // display name
	BirthDate *Date     `json:"birth_date,omitempty"`
	Sex       Sex       `json:"sex"`
	Notes     string    `json:"notes,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version increases on every update; an update that names an old version
	// fails with ErrConflict (optimistic concurrency).
	Version int `json:"version"`
}

// Visit is one consultation: the patient's facts as known at that date, in
// the contract's input shape (Patient). Data.AsOf is the visit date.
type Visit struct {
	ID        string    `json:"id"`
	PatientID string    `json:"patient_id"`
	Date      Date      `json:"date"`
	Data      Patient   `json:"data"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int       `json:"version"`
}

// Assessment is an immutable snapshot: the exact input given to the engine,
// the plan it produced, and the engine and knowledge-base versions, so a past
// plan can be shown exactly as it was.
type Assessment struct {
	ID               string          `json:"id"`
	PatientID        string          `json:"patient_id"`
	VisitID          string          `json:"visit_id,omitempty"`
	CreatedBy        string          `json:"created_by"`
	CreatedAt        time.Time       `json:"created_at"`
	EngineVersion    string          `json:"engine_version"`
	KnowledgeVersion string          `json:"knowledge_version"`
	Input            json.RawMessage `json:"input"`
	Plan             json.RawMessage `json:"plan"`
}

// AuditEntry is one line of the append-only audit log: who viewed, created or
// changed what. It never holds clinical data, only references.
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`  // user name, "token:<name>" or "system"
	Action   string    `json:"action"` // view | create | update | delete | login | login_failed | logout | export
	Entity   string    `json:"entity"` // patient | visit | assessment | user | token | session
	EntityID string    `json:"entity_id,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleClinician Role = "clinician"
	RoleAdmin     Role = "admin"
)

// User is a local account.
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled"`
	CreatedAt    time.Time `json:"created_at"`
}

// Session is a signed-in browser session. TokenHash is the SHA-256 of the
// cookie value; the cookie itself is never stored.
type Session struct {
	TokenHash string
	UserID    string
	CSRF      string // per-session CSRF token for forms
	CreatedAt time.Time
	ExpiresAt time.Time
}

// APIToken is a bearer token for the JSON API; only its hash is stored.
type APIToken struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	Name      string     `json:"name"`
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
}

// CDS Hooks records. ekbom keeps what it told an EHR (CardBatch) and what
// the clinician did with it (Feedback), so that card use can be audited and
// reviewed. Neither holds the patient's name or identifiers beyond the EHR's
// own patient reference.

// Card indicators, in order of increasing urgency (CDS Hooks 2.0).
const (
	IndicatorInfo     = "info"
	IndicatorWarning  = "warning"
	IndicatorCritical = "critical"
)

// CardServed is one card of a batch, as the EHR received it.
type CardServed struct {
	UUID      string `json:"uuid"`
	Summary   string `json:"summary"`
	Indicator string `json:"indicator"` // info | warning | critical
}

// CardBatch is one CDS Hooks response: the cards served for one hook call.
type CardBatch struct {
	// ID is chosen by the caller (cdshooks.BatchID derives it from the
	// request) so that it can appear in the cards' links; 32 lowercase hex
	// digits. Saving an ID twice is ErrConflict.
	ID               string       `json:"id"`
	ServiceID        string       `json:"service_id"`
	Hook             string       `json:"hook"`
	HookInstance     string       `json:"hook_instance"`
	PatientRef       string       `json:"patient_ref,omitempty"` // the EHR's "Patient/{id}"
	Actor            string       `json:"actor"`                 // "cds:<issuer>", or "cds:insecure" without verification
	EngineVersion    string       `json:"engine_version"`
	KnowledgeVersion string       `json:"knowledge_version"`
	Cards            []CardServed `json:"cards"`
	// Plan is the plan behind a patient-view batch (the contract's plan
	// JSON), kept so that the card link can show the full plan to a
	// signed-in clinician. Empty for order checks.
	Plan      json.RawMessage `json:"plan,omitempty"`
	CreatedAt time.Time       `json:"created_at"` // set by the store
}

// Feedback outcomes (CDS Hooks 2.0).
const (
	FeedbackAccepted   = "accepted"
	FeedbackOverridden = "overridden"
)

// Feedback is what the clinician did with one card. It is stored once per
// (ServiceID, CardUUID, Outcome, OutcomeAt): the same feedback sent again is
// not stored twice.
type Feedback struct {
	ID                  int64    `json:"id"` // set by the store
	ServiceID           string   `json:"service_id"`
	CardUUID            string   `json:"card_uuid"`
	Outcome             string   `json:"outcome"` // accepted | overridden
	AcceptedSuggestions []string `json:"accepted_suggestions,omitempty"`
	// The override reason the clinician chose (a Coding), if any.
	OverrideSystem  string    `json:"override_system,omitempty"`
	OverrideCode    string    `json:"override_code,omitempty"`
	OverrideDisplay string    `json:"override_display,omitempty"`
	UserComment     string    `json:"user_comment,omitempty"`
	OutcomeAt       time.Time `json:"outcome_at"`  // outcomeTimestamp, UTC
	Actor           string    `json:"actor"`       // as CardBatch.Actor
	ReceivedAt      time.Time `json:"received_at"` // set by the store
}

// PatientFilter selects patients for a list.
type PatientFilter struct {
	Query  string // matches name or MRN, case-insensitive substring
	Limit  int    // 0 means a default of 50
	Offset int
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Entity   string
	EntityID string
	Actor    string
	Limit    int // 0 means 100
}

// Store keeps patient records, visits, assessments, users, sessions, API
// tokens, the audit log, and the CDS Hooks cards served and feedback
// received. Implementations: internal/sqlite and
// internal/postgres, both checked by the shared contract suite in
// internal/storetest.
//
// Every create, update and delete of a patient, visit or assessment writes an
// audit entry in the same transaction, naming actor. Errors wrap ErrNotFound,
// ErrConflict (stale version, duplicate MRN or username) or ErrInvalid.
type Store interface {
	CreatePatient(ctx context.Context, p *PatientRecord, actor string) error // sets ID, times, Version=1
	GetPatient(ctx context.Context, id string) (*PatientRecord, error)
	UpdatePatient(ctx context.Context, p *PatientRecord, actor string) error // p.Version must match; increments it
	DeletePatient(ctx context.Context, id string, actor string) error        // removes visits and assessments too
	ListPatients(ctx context.Context, f PatientFilter) ([]PatientRecord, error)

	CreateVisit(ctx context.Context, v *Visit, actor string) error
	GetVisit(ctx context.Context, id string) (*Visit, error)
	UpdateVisit(ctx context.Context, v *Visit, actor string) error
	DeleteVisit(ctx context.Context, id string, actor string) error
	ListVisits(ctx context.Context, patientID string) ([]Visit, error) // oldest first

	CreateAssessment(ctx context.Context, a *Assessment, actor string) error // immutable afterwards
	GetAssessment(ctx context.Context, id string) (*Assessment, error)
	ListAssessments(ctx context.Context, patientID string) ([]Assessment, error) // newest first

	AppendAudit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	// SaveCardsServed stores a CDS Hooks card batch and, in the same
	// transaction, the audit entry (entity "cds", action "serve") naming the
	// hook, its instance and the engine and knowledge-base versions.
	SaveCardsServed(ctx context.Context, b CardBatch) error
	GetCardBatch(ctx context.Context, id string) (*CardBatch, error)
	// SaveFeedback stores feedback on a card unless the same feedback
	// (service, card, outcome, outcome time) is stored already; created
	// reports which. New feedback is audited (entity "cds", action
	// "feedback").
	SaveFeedback(ctx context.Context, f Feedback) (created bool, err error)
	ListFeedback(ctx context.Context, serviceID string, limit int) ([]Feedback, error) // newest first; limit 0 means 100
	// ClaimTokenID records the id of an accepted CDS Hooks JWT (issuer and
	// jti) until it expires, and reports whether it was new: false means
	// the id is recorded and not expired at now, a replay. Ids expired at
	// now may be claimed again and are removed from time to time. Every
	// replica of the service sharing the store sees every other's ids.
	ClaimTokenID(ctx context.Context, id string, expires, now time.Time) (claimed bool, err error)

	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByUsername(ctx context.Context, username string) (*User, error)
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, u *User) error
	CountUsers(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, tokenHash string) (*Session, error) // ErrNotFound when expired
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	CreateAPIToken(ctx context.Context, t *APIToken) error
	GetAPITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	ListAPITokens(ctx context.Context, userID string) ([]APIToken, error)
	DeleteAPIToken(ctx context.Context, id string) error
	TouchAPIToken(ctx context.Context, id string, at time.Time) error

	// Ping checks the database is reachable (health endpoint).
	Ping(ctx context.Context) error
	Close() error
}
