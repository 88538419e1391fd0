-- Schema 9: review comments that made an active rule's point again (a recurrence): at most one
-- rule per comment, its best match. The rule's own evidence is not repeated here.
CREATE TABLE recurrences (
    source     TEXT NOT NULL,
    comment_id TEXT NOT NULL,                   -- the platform's comment id
    rule_id    TEXT NOT NULL,
    repo       TEXT NOT NULL,
    at         TEXT,                            -- the comment's created_at
    url        TEXT,
    path       TEXT,
    score      REAL NOT NULL,
    PRIMARY KEY (source, comment_id)
) WITHOUT ROWID;
CREATE INDEX recurrences_rule ON recurrences (rule_id);
