-- ekbom schema, PostgreSQL. name_key, mrn_key and username_key are
-- case-folded copies computed by the store, used for search and uniqueness;
-- they use the C collation so that lists sort in the same order as SQLite.

CREATE TABLE patients (
	id         TEXT PRIMARY KEY,
	mrn        TEXT,              -- NULL when not set
	mrn_key    TEXT COLLATE "C",
	name       TEXT NOT NULL,
	name_key   TEXT COLLATE "C" NOT NULL, -- byte order, as in SQLite
	birth_date DATE,
	sex        TEXT NOT NULL DEFAULT '',
	notes      TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0)
);
CREATE UNIQUE INDEX patients_mrn_key ON patients (mrn_key);
CREATE INDEX patients_name_key ON patients (name_key, id);

CREATE TABLE visits (
	id         TEXT PRIMARY KEY,
	patient_id TEXT NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	visit_date DATE NOT NULL,
	data       JSONB NOT NULL, -- ekbom.Patient
	created_by TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0)
);
CREATE INDEX visits_patient_date ON visits (patient_id, visit_date, created_at);

CREATE TABLE assessments (
	id                TEXT PRIMARY KEY,
	patient_id        TEXT NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	visit_id          TEXT REFERENCES visits (id) ON DELETE SET NULL,
	created_by        TEXT NOT NULL,
	created_at        TIMESTAMPTZ NOT NULL,
	engine_version    TEXT NOT NULL,
	knowledge_version TEXT NOT NULL,
	input             JSON NOT NULL, -- JSON, not JSONB: the text is kept exactly as given
	plan              JSON NOT NULL
);
CREATE INDEX assessments_patient_created ON assessments (patient_id, created_at);
CREATE INDEX assessments_visit ON assessments (visit_id);

-- Assessments are immutable snapshots. The only change allowed is losing the
-- link to a deleted visit (ON DELETE SET NULL); deleting the patient removes
-- them (ON DELETE CASCADE).
CREATE FUNCTION ekbom_assessments_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.id IS DISTINCT FROM OLD.id
		OR NEW.patient_id IS DISTINCT FROM OLD.patient_id
		OR (NEW.visit_id IS DISTINCT FROM OLD.visit_id AND NEW.visit_id IS NOT NULL)
		OR NEW.created_by IS DISTINCT FROM OLD.created_by
		OR NEW.created_at IS DISTINCT FROM OLD.created_at
		OR NEW.engine_version IS DISTINCT FROM OLD.engine_version
		OR NEW.knowledge_version IS DISTINCT FROM OLD.knowledge_version
		OR NEW.input::text IS DISTINCT FROM OLD.input::text
		OR NEW.plan::text IS DISTINCT FROM OLD.plan::text
	THEN
		RAISE EXCEPTION 'assessments are immutable' USING ERRCODE = 'restrict_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER assessments_immutable BEFORE UPDATE ON assessments
	FOR EACH ROW EXECUTE FUNCTION ekbom_assessments_immutable();

-- The audit log holds references only, never clinical data, and is
-- append-only: UPDATE, DELETE and TRUNCATE raise.
CREATE TABLE audit_log (
	id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at        TIMESTAMPTZ NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	entity    TEXT NOT NULL,
	entity_id TEXT NOT NULL DEFAULT '',
	detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE FUNCTION ekbom_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION ekbom_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION ekbom_audit_log_append_only();

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL,
	username_key  TEXT COLLATE "C" NOT NULL UNIQUE,
	name          TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL DEFAULT '',
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf       TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at TIMESTAMPTZ NOT NULL,
	last_used  TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
