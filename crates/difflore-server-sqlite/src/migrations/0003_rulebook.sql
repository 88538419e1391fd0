-- difflore-server on SQLite, schema 3: the team rulebook (DESIGN §10).
-- Each team's change sequence; every change to a rule or a tombstone takes the next version.
CREATE TABLE rule_versions (
    team    TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
-- The team rule object as JSON (`body`), with the columns queries filter on.
CREATE TABLE team_rules (
    team      TEXT    NOT NULL,
    id        TEXT    NOT NULL,
    repo      TEXT,
    signature TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    body      TEXT    NOT NULL,
    PRIMARY KEY (team, id)
);
CREATE INDEX team_rules_version ON team_rules (team, version);
CREATE INDEX team_rules_signature ON team_rules (team, signature);
-- Rejected (or merged-away) signatures per repo ('' for global rules); `lifted` by a re-approval.
CREATE TABLE rule_tombstones (
    team      TEXT    NOT NULL,
    repo      TEXT    NOT NULL,
    signature TEXT    NOT NULL,
    lifted    INTEGER NOT NULL DEFAULT 0,
    version   INTEGER NOT NULL,
    PRIMARY KEY (team, repo, signature)
);
CREATE INDEX rule_tombstones_version ON rule_tombstones (team, version);
-- Every decision: who, when, from which revision and version, to what, why.
CREATE TABLE rule_audit (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    team          TEXT    NOT NULL,
    rule_id       TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    from_revision INTEGER NOT NULL,
    from_version  INTEGER NOT NULL,
    to_status     TEXT    NOT NULL,
    reason        TEXT,
    at            TEXT    NOT NULL
);
CREATE INDEX rule_audit_rule ON rule_audit (team, rule_id);
