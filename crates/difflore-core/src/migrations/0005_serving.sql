-- Schema 5: what the hook remembers while serving rules to an agent session.
-- `served`: a rule shown for a file in a session — once `before` the session's first edit of
-- that file, once `after` it — or the edit of that file held back by the gate (`deny`), so the
-- agent is never told the same thing twice. `path` '' = not about one file (a prompt's topic).
CREATE TABLE served (
    session TEXT NOT NULL,
    path    TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    stage   TEXT NOT NULL CHECK (stage IN ('before', 'after', 'deny')),
    at      INTEGER NOT NULL,
    PRIMARY KEY (session, path, rule_id, stage)
) WITHOUT ROWID;
CREATE INDEX served_at ON served (at);

-- Files a session has edited (after its first edit of a file, rules for it are `after`).
CREATE TABLE session_edits (
    session TEXT NOT NULL,
    path    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (session, path)
) WITHOUT ROWID;

-- When a session last started in a repository ('' outside one): "K new since your last session".
CREATE TABLE session_starts (
    repo    TEXT PRIMARY KEY,
    last_at INTEGER NOT NULL
) WITHOUT ROWID;
