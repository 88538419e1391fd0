-- difflore-server on SQLite, schema 6: review comments that made a team rule's point again, from `rule.recurred` events
-- (stored once per comment, for the rule it matched best), read with the rules' evidence for
-- "said N times before it became active, M times since".
CREATE TABLE rule_recurrences (
    team       TEXT NOT NULL,
    source     TEXT NOT NULL,
    repo       TEXT NOT NULL,
    comment_id TEXT NOT NULL,
    rule_id    TEXT NOT NULL,
    at         TEXT NOT NULL,
    url        TEXT,
    path       TEXT,
    score      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (team, source, repo, comment_id)
);
CREATE INDEX rule_recurrences_rule ON rule_recurrences (team, rule_id);
