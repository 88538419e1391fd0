-- difflore-server on PostgreSQL, schema 1.
CREATE TABLE events (
    seq         BIGSERIAL PRIMARY KEY,
    team        TEXT        NOT NULL,
    id          UUID        NOT NULL,
    kind        TEXT        NOT NULL,
    occurred_at TEXT        NOT NULL,
    payload     JSONB       NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The writing transaction's id: the cursor pages in (txid, seq) order below the oldest
    -- transaction still running, so a row that commits late is never skipped.
    txid        XID8        NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (team, id)
);
CREATE INDEX events_team_cursor ON events (team, txid, seq);

CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    team          TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('ingest', 'read', 'admin')),
    secret_sha256 TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE UNIQUE INDEX tokens_active_name ON tokens (team, name) WHERE revoked_at IS NULL;
