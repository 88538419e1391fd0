-- difflore-server on SQLite, schema 2: the `maintainer` role (decides the team's rules).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt, rows kept as they are.
CREATE TABLE tokens_new (
    id            TEXT PRIMARY KEY,
    team          TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('ingest', 'read', 'maintainer', 'admin')),
    secret_sha256 TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
INSERT INTO tokens_new (id, team, name, role, secret_sha256, created_at, revoked_at)
    SELECT id, team, name, role, secret_sha256, created_at, revoked_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE UNIQUE INDEX tokens_active_name ON tokens (team, name) WHERE revoked_at IS NULL;
