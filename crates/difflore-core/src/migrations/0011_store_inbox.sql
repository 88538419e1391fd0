-- Schema 11: the store's own inbox. A hook step that serves rules appends its `hook.event` and
-- `rules.served` here, in the same commit as what it served: one page per event, where the
-- outbox writes seven (the row, its four indexes, the row counter, the AUTOINCREMENT sequence).
-- Every writing command and every daemon turn move these rows into the outbox (DESIGN §3's
-- queue); rows that hold no event are kept in inbox_set_aside, never deleted. Same shape as the
-- table of the same name in inbox.db.
CREATE TABLE inbox (
    seq      INTEGER PRIMARY KEY,
    envelope TEXT NOT NULL
);
CREATE TABLE inbox_set_aside (
    seq      INTEGER PRIMARY KEY,
    envelope TEXT NOT NULL
);
