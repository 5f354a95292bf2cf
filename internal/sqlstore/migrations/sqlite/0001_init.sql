-- ekbom schema, SQLite. Times are RFC 3339 UTC text with microseconds
-- (fixed width, so text order is time order); dates are YYYY-MM-DD text.
-- name_key, mrn_key and username_key are case-folded copies computed by the
-- store, used for search and uniqueness.

CREATE TABLE patients (
	id         TEXT PRIMARY KEY,
	mrn        TEXT,              -- NULL when not set
	mrn_key    TEXT,
	name       TEXT NOT NULL,
	name_key   TEXT NOT NULL,
	birth_date TEXT,
	sex        TEXT NOT NULL DEFAULT '',
	notes      TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0)
) STRICT;
CREATE UNIQUE INDEX patients_mrn_key ON patients (mrn_key);
CREATE INDEX patients_name_key ON patients (name_key, id);

CREATE TABLE visits (
	id         TEXT PRIMARY KEY,
	patient_id TEXT NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	visit_date TEXT NOT NULL,
	data       TEXT NOT NULL CHECK (json_valid(data)), -- ekbom.Patient as JSON
	created_by TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0)
) STRICT;
CREATE INDEX visits_patient_date ON visits (patient_id, visit_date, created_at);

CREATE TABLE assessments (
	id                TEXT PRIMARY KEY,
	patient_id        TEXT NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	visit_id          TEXT REFERENCES visits (id) ON DELETE SET NULL,
	created_by        TEXT NOT NULL,
	created_at        TEXT NOT NULL,
	engine_version    TEXT NOT NULL,
	knowledge_version TEXT NOT NULL,
	input             TEXT NOT NULL CHECK (json_valid(input)), -- exactly as given
	plan              TEXT NOT NULL CHECK (json_valid(plan))
) STRICT;
CREATE INDEX assessments_patient_created ON assessments (patient_id, created_at);
CREATE INDEX assessments_visit ON assessments (visit_id);

-- Assessments are immutable snapshots. The only change allowed is losing the
-- link to a deleted visit (ON DELETE SET NULL); deleting the patient removes
-- them (ON DELETE CASCADE).
CREATE TRIGGER assessments_immutable BEFORE UPDATE ON assessments
WHEN NEW.id IS NOT OLD.id
	OR NEW.patient_id IS NOT OLD.patient_id
	OR (NEW.visit_id IS NOT OLD.visit_id AND NEW.visit_id IS NOT NULL)
	OR NEW.created_by IS NOT OLD.created_by
	OR NEW.created_at IS NOT OLD.created_at
	OR NEW.engine_version IS NOT OLD.engine_version
	OR NEW.knowledge_version IS NOT OLD.knowledge_version
	OR NEW.input IS NOT OLD.input
	OR NEW.plan IS NOT OLD.plan
BEGIN
	SELECT RAISE(ABORT, 'assessments are immutable');
END;

-- The audit log holds references only, never clinical data, and is
-- append-only.
CREATE TABLE audit_log (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	at        TEXT NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	entity    TEXT NOT NULL,
	entity_id TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL,
	username_key  TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL DEFAULT '',
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	last_used  TEXT
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
