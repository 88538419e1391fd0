-- Schema 1: settings, counters, the outbox queue, delivered ids, the daemon's shared state.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The key of the keyed hash behind hook event ids (DESIGN §9): random, never leaves this file.
INSERT INTO settings (key, value) VALUES ('event_id_key', lower(hex(randomblob(32))));

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('outbox_rows', 0), ('dropped', 0);

-- One row per captured event. States: pending, leased, dead, parked (DESIGN §4).
-- Delivered rows are deleted; their id moves to seen_event_ids.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    occurred_at     TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    bytes           INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'leased', 'dead', 'parked')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due     ON outbox (state, next_attempt_at, seq);
CREATE INDEX outbox_leases  ON outbox (state, lease_until);
CREATE INDEX outbox_created ON outbox (created_at);

CREATE TRIGGER outbox_count_ins AFTER INSERT ON outbox BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'outbox_rows';
END;
CREATE TRIGGER outbox_count_del AFTER DELETE ON outbox BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'outbox_rows';
END;

CREATE TABLE seen_event_ids (
    event_id TEXT PRIMARY KEY,
    seen_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX seen_event_ids_age ON seen_event_ids (seen_at);

-- The daemon's shared state (breaker, last drain, drain requests): one key per value.
CREATE TABLE daemon_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
