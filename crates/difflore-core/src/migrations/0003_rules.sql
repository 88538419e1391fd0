-- Schema 3: rules, their evidence, tombstones and the audit trail of status changes.
CREATE TABLE rules (
    id          TEXT PRIMARY KEY,                 -- UUIDv7, shown by unique prefix
    title       TEXT NOT NULL,
    statement   TEXT NOT NULL,                    -- imperative
    rationale   TEXT,
    globs       TEXT NOT NULL DEFAULT '[]',       -- JSON array of repo-relative globs
    repo        TEXT,                             -- repo key; NULL = global
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'active', 'paused', 'rejected')),
    severity    TEXT NOT NULL DEFAULT 'context' CHECK (severity IN ('context', 'enforce')),
    confidence  REAL NOT NULL DEFAULT 0,
    origin      TEXT NOT NULL CHECK (origin IN ('review_import', 'manual', 'agent_proposal', 'team')),
    reason      TEXT,                             -- why extraction kept it
    signature   TEXT,                             -- normalised statement, for clustering and tombstones
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX rules_repo_status ON rules (repo, status);
CREATE UNIQUE INDEX rules_signature ON rules (repo, signature) WHERE signature IS NOT NULL;

CREATE TABLE rule_evidence (
    rule_id     TEXT NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    comment_id  TEXT NOT NULL,                    -- the platform's comment id
    pr_number   INTEGER,
    url         TEXT,
    author      TEXT,
    path        TEXT,
    line        INTEGER,
    excerpt     TEXT NOT NULL,
    PRIMARY KEY (rule_id, source, comment_id)
) WITHOUT ROWID;
CREATE INDEX rule_evidence_comment ON rule_evidence (source, comment_id);

-- What must never be proposed again: a rejected comment, or a rejected rule's signature.
CREATE TABLE tombstones (
    kind       TEXT NOT NULL CHECK (kind IN ('comment', 'signature')),
    key        TEXT NOT NULL,
    repo       TEXT NOT NULL DEFAULT '',
    reason     TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, repo, key)
) WITHOUT ROWID;

CREATE TABLE rule_audit (
    id          INTEGER PRIMARY KEY,
    rule_id     TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,                    -- extract | person | agent
    reason      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX rule_audit_rule ON rule_audit (rule_id, at);
