-- CDS Hooks: the card batches served to EHRs and the feedback on them.
-- A batch holds the card summaries and indicators, never the patient's name;
-- patient_ref is the EHR's own reference ("Patient/123"). plan is the
-- contract's plan JSON behind a patient-view batch, shown to signed-in
-- clinicians through the card's link; NULL for order checks.

CREATE TABLE cds_batches (
	id                TEXT PRIMARY KEY,
	service_id        TEXT NOT NULL,
	hook              TEXT NOT NULL,
	hook_instance     TEXT NOT NULL,
	patient_ref       TEXT NOT NULL DEFAULT '',
	actor             TEXT NOT NULL,
	engine_version    TEXT NOT NULL,
	knowledge_version TEXT NOT NULL,
	plan              TEXT CHECK (plan IS NULL OR json_valid(plan)),
	created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX cds_batches_instance ON cds_batches (hook_instance);
CREATE INDEX cds_batches_created ON cds_batches (created_at);

CREATE TABLE cds_cards (
	batch_id  TEXT NOT NULL REFERENCES cds_batches (id) ON DELETE CASCADE,
	position  INTEGER NOT NULL CHECK (position >= 0),
	uuid      TEXT NOT NULL,
	summary   TEXT NOT NULL,
	indicator TEXT NOT NULL CHECK (indicator IN ('info', 'warning', 'critical')),
	PRIMARY KEY (batch_id, position)
) STRICT;
CREATE INDEX cds_cards_uuid ON cds_cards (uuid);

-- Feedback is stored once per (service, card, outcome, outcome time), so a
-- client that sends the same feedback again changes nothing.
CREATE TABLE cds_feedback (
	id                   INTEGER PRIMARY KEY AUTOINCREMENT,
	service_id           TEXT NOT NULL,
	card_uuid            TEXT NOT NULL,
	outcome              TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
	accepted_suggestions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(accepted_suggestions)),
	override_system      TEXT NOT NULL DEFAULT '',
	override_code        TEXT NOT NULL DEFAULT '',
	override_display     TEXT NOT NULL DEFAULT '',
	user_comment         TEXT NOT NULL DEFAULT '',
	outcome_at           TEXT NOT NULL,
	actor                TEXT NOT NULL,
	received_at          TEXT NOT NULL,
	UNIQUE (service_id, card_uuid, outcome, outcome_at)
) STRICT;
CREATE INDEX cds_feedback_service ON cds_feedback (service_id, id);
