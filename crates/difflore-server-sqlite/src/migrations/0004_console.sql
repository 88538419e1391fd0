-- difflore-server on SQLite, schema 4: the console's sessions and the activity counts.
-- A console session: the SHA-256 of the cookie's secret (never the secret), the token it acts
-- as (a revoked token ends it), its CSRF token, and when it expires (Unix seconds).
CREATE TABLE console_sessions (
    id_sha256  TEXT    PRIMARY KEY,
    token_id   TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_token ON console_sessions (token_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
-- Events per team, day, kind, agent and repo, counted when an event is first stored.
CREATE TABLE activity_daily (
    team  TEXT    NOT NULL,
    day   TEXT    NOT NULL,
    kind  TEXT    NOT NULL,
    agent TEXT    NOT NULL,
    repo  TEXT    NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (team, day, kind, agent, repo)
) WITHOUT ROWID;
-- The events stored before this schema, counted once.
INSERT INTO activity_daily (team, day, kind, agent, repo, count)
SELECT team, substr(occurred_at, 1, 10), kind,
       COALESCE(NULLIF(json_extract(payload, '$.agent'), ''), '-'),
       COALESCE(NULLIF(json_extract(payload, '$.repo'), ''), '-'),
       COUNT(*)
FROM events
WHERE json_valid(payload)
GROUP BY 1, 2, 3, 4, 5;
