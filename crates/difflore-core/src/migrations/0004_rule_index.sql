-- Schema 4: what the matching engine reads — a stable integer key per rule, a full-text index
-- (FTS5, bm25) over title, statement and rationale, and an index of each rule's globs by their
-- literal directory prefix and literal extension, so a match compiles only candidate globs.
-- Triggers keep all three in step with `rules`, whoever writes it (extraction, review, agents'
-- proposals, team sync).

-- `rules` has a TEXT key; its implicit rowid may change on VACUUM, so the indexes key on this.
CREATE TABLE rule_keys (
    seq     INTEGER PRIMARY KEY,
    rule_id TEXT NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE rules_fts USING fts5(
    title, statement, rationale,
    tokenize = 'porter unicode61'
);

-- One row per glob. `prefix`: the glob's literal directory part up to its first wildcard
-- ('src/billing/' for 'src/billing/*.rs', '' for '**/*.rs'); `ext`: the literal extension of its
-- last segment ('rs'), '' when there is none (the glob may match any extension). Both are
-- computed by SQLite from the glob, so every writer gets them right. `scope`: repo key, '' = global.
CREATE TABLE rule_globs (
    seq    INTEGER NOT NULL REFERENCES rule_keys (seq) ON DELETE CASCADE,
    glob   TEXT NOT NULL,
    scope  TEXT NOT NULL,
    lit    TEXT GENERATED ALWAYS AS (
               substr(glob, 1, min(instr(glob || '*', '*'), instr(glob || '?', '?'),
                                   instr(glob || '[', '['), instr(glob || '{', '{')) - 1)) VIRTUAL,
    seg    TEXT GENERATED ALWAYS AS (
               substr(glob, length(rtrim(glob, replace(glob, '/', ''))) + 1)) VIRTUAL,
    prefix TEXT GENERATED ALWAYS AS (rtrim(lit, replace(lit, '/', ''))) STORED,
    ext    TEXT GENERATED ALWAYS AS (
               CASE WHEN instr(seg, '.') = 0 THEN ''
                    WHEN substr(seg, length(rtrim(seg, replace(seg, '.', ''))) + 1) GLOB '*[][*?{}]*' THEN ''
                    ELSE substr(seg, length(rtrim(seg, replace(seg, '.', ''))) + 1) END) STORED,
    PRIMARY KEY (seq, glob)
) WITHOUT ROWID;
CREATE INDEX rule_globs_lookup ON rule_globs (scope, prefix, ext);

CREATE TRIGGER rules_index_insert AFTER INSERT ON rules BEGIN
    INSERT INTO rule_keys (rule_id) VALUES (new.id);
    INSERT INTO rules_fts (rowid, title, statement, rationale)
        VALUES ((SELECT seq FROM rule_keys WHERE rule_id = new.id), new.title, new.statement, new.rationale);
    INSERT OR IGNORE INTO rule_globs (seq, glob, scope)
        SELECT (SELECT seq FROM rule_keys WHERE rule_id = new.id), j.value, COALESCE(new.repo, '')
        FROM json_each(CASE WHEN json_valid(new.globs) THEN new.globs ELSE '[]' END) j
        WHERE j.type = 'text' AND j.value <> '';
END;

CREATE TRIGGER rules_index_text AFTER UPDATE OF title, statement, rationale ON rules BEGIN
    DELETE FROM rules_fts WHERE rowid = (SELECT seq FROM rule_keys WHERE rule_id = old.id);
    INSERT INTO rules_fts (rowid, title, statement, rationale)
        VALUES ((SELECT seq FROM rule_keys WHERE rule_id = new.id), new.title, new.statement, new.rationale);
END;

CREATE TRIGGER rules_index_globs AFTER UPDATE OF globs, repo ON rules BEGIN
    DELETE FROM rule_globs WHERE seq = (SELECT seq FROM rule_keys WHERE rule_id = old.id);
    INSERT OR IGNORE INTO rule_globs (seq, glob, scope)
        SELECT (SELECT seq FROM rule_keys WHERE rule_id = new.id), j.value, COALESCE(new.repo, '')
        FROM json_each(CASE WHEN json_valid(new.globs) THEN new.globs ELSE '[]' END) j
        WHERE j.type = 'text' AND j.value <> '';
END;

CREATE TRIGGER rules_index_delete AFTER DELETE ON rules BEGIN
    DELETE FROM rule_globs WHERE seq = (SELECT seq FROM rule_keys WHERE rule_id = old.id);
    DELETE FROM rules_fts WHERE rowid = (SELECT seq FROM rule_keys WHERE rule_id = old.id);
    DELETE FROM rule_keys WHERE rule_id = old.id;
END;

-- Index the rules that exist already.
INSERT INTO rule_keys (rule_id) SELECT id FROM rules ORDER BY created_at, id;
INSERT INTO rules_fts (rowid, title, statement, rationale)
    SELECT k.seq, r.title, r.statement, r.rationale FROM rules r JOIN rule_keys k ON k.rule_id = r.id;
INSERT OR IGNORE INTO rule_globs (seq, glob, scope)
    SELECT k.seq, j.value, COALESCE(r.repo, '')
    FROM rules r JOIN rule_keys k ON k.rule_id = r.id,
         json_each(CASE WHEN json_valid(r.globs) THEN r.globs ELSE '[]' END) j
    WHERE j.type = 'text' AND j.value <> '';
