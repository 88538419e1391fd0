-- Schema 10: a recurrence sent to the team's server (`rule.recurred`) is marked, so each goes
-- once; and which files each rule was served for (first and last time), so a recurrence after
-- activation can say whether agents had been given the rule on that file.
ALTER TABLE recurrences ADD COLUMN offered INTEGER NOT NULL DEFAULT 0;
CREATE TABLE served_files (
    rule_id  TEXT    NOT NULL,
    repo     TEXT    NOT NULL,               -- repo key, '' outside one
    path     TEXT    NOT NULL,               -- repo-relative
    first_at INTEGER NOT NULL,               -- ms
    last_at  INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (rule_id, repo, path)
) WITHOUT ROWID;
