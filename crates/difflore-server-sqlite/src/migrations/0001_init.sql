-- difflore-server on SQLite, schema 1.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    team        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    occurred_at TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    received_at TEXT    NOT NULL,
    UNIQUE (team, id)
);
CREATE INDEX events_team_seq ON events (team, seq);

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
