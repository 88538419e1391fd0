-- difflore-server on PostgreSQL, schema 3: the team rulebook (DESIGN §10).
-- Each team's change sequence. Every rulebook write takes the next version by updating the
-- team's row, which it keeps locked until it commits: versions commit in order, so a pull
-- that has seen version V never misses a change below V committing late.
CREATE TABLE rule_versions (
    team    TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
-- The team rule object as JSON text (`body`), with the columns queries filter on.
CREATE TABLE team_rules (
    team      TEXT   NOT NULL,
    id        TEXT   NOT NULL,
    repo      TEXT,
    signature TEXT   NOT NULL,
    status    TEXT   NOT NULL,
    version   BIGINT NOT NULL,
    body      TEXT   NOT NULL,
    PRIMARY KEY (team, id)
);
CREATE INDEX team_rules_version ON team_rules (team, version);
CREATE INDEX team_rules_signature ON team_rules (team, signature);
-- Rejected (or merged-away) signatures per repo ('' for global rules); `lifted` by a re-approval.
CREATE TABLE rule_tombstones (
    team      TEXT    NOT NULL,
    repo      TEXT    NOT NULL,
    signature TEXT    NOT NULL,
    lifted    BOOLEAN NOT NULL DEFAULT false,
    version   BIGINT  NOT NULL,
    PRIMARY KEY (team, repo, signature)
);
CREATE INDEX rule_tombstones_version ON rule_tombstones (team, version);
-- Every decision: who, when, from which revision and version, to what, why.
CREATE TABLE rule_audit (
    seq           BIGSERIAL PRIMARY KEY,
    team          TEXT   NOT NULL,
    rule_id       TEXT   NOT NULL,
    action        TEXT   NOT NULL,
    actor         TEXT   NOT NULL,
    from_revision BIGINT NOT NULL,
    from_version  BIGINT NOT NULL,
    to_status     TEXT   NOT NULL,
    reason        TEXT,
    at            TEXT   NOT NULL
);
CREATE INDEX rule_audit_rule ON rule_audit (team, rule_id);
