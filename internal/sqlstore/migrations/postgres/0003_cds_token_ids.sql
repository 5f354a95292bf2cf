-- CDS Hooks: the ids (jti) of the JWTs accepted, kept until the token
-- expires, so that a token replayed to any replica of the service is
-- refused. id is the issuer and the jti joined by a NUL byte (stored
-- escaped: PostgreSQL text holds no NUL).

CREATE TABLE cds_token_ids (
	id         TEXT PRIMARY KEY,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX cds_token_ids_expires ON cds_token_ids (expires_at);
