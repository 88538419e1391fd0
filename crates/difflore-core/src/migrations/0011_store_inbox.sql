-- Schema 11: the store's own inbox. A hook step that serves rules appends its `hook.event` and
-- `rules.served` here, in the same commit as what it served: one page per event, where the
-- outbox writes seven (the row, its four indexes, the row counter, the AUTOINCREMENT sequence).
-- A `rules.served` row also carries what it adds to this machine's serving figures (`counts`,
-- JSON: served_daily and served_files, schema 8), applied when the row is folded. Every writing
-- command and every daemon turn move these rows into the outbox (DESIGN §3's queue) and apply
-- their counts, in one transaction; rows that cannot be read are kept in inbox_set_aside,
-- never deleted. `seq` and `envelope` have the shape of the table of the same name in inbox.db.
CREATE TABLE inbox (
    seq      INTEGER PRIMARY KEY,
    envelope TEXT NOT NULL,
    counts   TEXT
);
CREATE TABLE inbox_set_aside (
    seq      INTEGER PRIMARY KEY,
    envelope TEXT NOT NULL,
    counts   TEXT
);
