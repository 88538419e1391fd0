-- Schema 8: what this machine's hooks served and its agents edited, per day — kept in the
-- serving transaction of the hook itself, so delivering (and trimming) the outbox never erases
-- them. `difflore report` reads them when the team's figures are out of reach.
CREATE TABLE served_daily (
    day     TEXT    NOT NULL,               -- YYYY-MM-DD, UTC
    rule_id TEXT    NOT NULL,
    agent   TEXT    NOT NULL,
    repo    TEXT    NOT NULL,               -- repo key, '' outside one
    moment  TEXT    NOT NULL,               -- read | prompt | edit | gate | mcp
    count   INTEGER NOT NULL,
    PRIMARY KEY (day, rule_id, agent, repo, moment)
) WITHOUT ROWID;
CREATE TABLE edits_daily (
    day   TEXT    NOT NULL,
    repo  TEXT    NOT NULL,
    path  TEXT    NOT NULL,                 -- repo-relative
    agent TEXT    NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, repo, path, agent)
) WITHOUT ROWID;
