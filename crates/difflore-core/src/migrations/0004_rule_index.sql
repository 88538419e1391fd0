-- Schema 4: what the matching engine reads, kept in step with `rules` by triggers whoever
-- writes it (extraction, review, agents' proposals, team sync):
-- * rule_keys: a stable integer per rule (`rules` has a TEXT key; its implicit rowid may
--   change on VACUUM);
-- * scopes and glob_ids: each distinct repo key, and each distinct (scope, glob) with the glob's
--   literal directory prefix and extension, so a path finds its candidate globs by index and
--   only those are compiled;
-- * rules_fts: FTS5 (bm25) over the *active* rules' title, statement and rationale, plus a
--   `tags` column naming each rule's scope (`zs<id>`), globs (`zg<id>`) or, for a rule without
--   globs, `zs<id>any` — so one FTS query restricted to the globs that matched a file scores
--   only the rules that govern it.

CREATE TABLE rule_keys (
    seq     INTEGER PRIMARY KEY,
    rule_id TEXT NOT NULL UNIQUE
);

CREATE TABLE scopes (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE                      -- repo key, '' = global
);

-- `prefix`: the literal directory part up to the first wildcard ('src/billing/' for
-- 'src/billing/*.rs', '' for '**/*.rs'); `ext`: the literal extension of the last segment
-- ('rs'), '' when there is none (the glob may match any extension). Computed by SQLite.
CREATE TABLE glob_ids (
    id     INTEGER PRIMARY KEY,
    scope  TEXT NOT NULL,
    glob   TEXT NOT NULL,
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
    UNIQUE (scope, glob)
);
CREATE INDEX glob_ids_lookup ON glob_ids (scope, prefix, ext);

CREATE TABLE rule_globs (
    glob_id INTEGER NOT NULL REFERENCES glob_ids (id),
    seq     INTEGER NOT NULL REFERENCES rule_keys (seq) ON DELETE CASCADE,
    PRIMARY KEY (seq, glob_id)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE rules_fts USING fts5(
    title, statement, rationale, tags,
    tokenize = 'porter unicode61'
);

-- The tags of one rule (see above).
CREATE VIEW rule_tags AS
SELECT k.seq AS seq,
       'zs' || s.id || COALESCE((SELECT ' ' || group_concat('zg' || rg.glob_id, ' ')
                                 FROM rule_globs rg WHERE rg.seq = k.seq),
                                ' zs' || s.id || 'any') AS tags
FROM rule_keys k JOIN rules r ON r.id = k.rule_id JOIN scopes s ON s.key = COALESCE(r.repo, '');

CREATE TRIGGER rules_index_insert AFTER INSERT ON rules BEGIN
    INSERT INTO rule_keys (rule_id) VALUES (new.id);
    INSERT OR IGNORE INTO scopes (key) VALUES (COALESCE(new.repo, ''));
    INSERT OR IGNORE INTO glob_ids (scope, glob)
        SELECT COALESCE(new.repo, ''), j.value
        FROM json_each(CASE WHEN json_valid(new.globs) THEN new.globs ELSE '[]' END) j
        WHERE j.type = 'text' AND j.value <> '';
    INSERT OR IGNORE INTO rule_globs (glob_id, seq)
        SELECT g.id, (SELECT seq FROM rule_keys WHERE rule_id = new.id)
        FROM json_each(CASE WHEN json_valid(new.globs) THEN new.globs ELSE '[]' END) j
        JOIN glob_ids g ON g.scope = COALESCE(new.repo, '') AND g.glob = j.value
        WHERE j.type = 'text';
    INSERT INTO rules_fts (rowid, title, statement, rationale, tags)
        SELECT t.seq, new.title, new.statement, new.rationale, t.tags FROM rule_tags t
        WHERE t.seq = (SELECT seq FROM rule_keys WHERE rule_id = new.id) AND new.status = 'active';
END;

CREATE TRIGGER rules_index_globs AFTER UPDATE OF globs, repo ON rules BEGIN
    DELETE FROM rule_globs WHERE seq = (SELECT seq FROM rule_keys WHERE rule_id = old.id);
    INSERT OR IGNORE INTO scopes (key) VALUES (COALESCE(new.repo, ''));
    INSERT OR IGNORE INTO glob_ids (scope, glob)
        SELECT COALESCE(new.repo, ''), j.value
        FROM json_each(CASE WHEN json_valid(new.globs) THEN new.globs ELSE '[]' END) j
        WHERE j.type = 'text' AND j.value <> '';
    INSERT OR IGNORE INTO rule_globs (glob_id, seq)
        SELECT g.id, (SELECT seq FROM rule_keys WHERE rule_id = new.id)
        FROM json_each(CASE WHEN json_valid(new.globs) THEN new.globs ELSE '[]' END) j
        JOIN glob_ids g ON g.scope = COALESCE(new.repo, '') AND g.glob = j.value
        WHERE j.type = 'text';
    DELETE FROM rules_fts WHERE rowid = (SELECT seq FROM rule_keys WHERE rule_id = new.id);
    INSERT INTO rules_fts (rowid, title, statement, rationale, tags)
        SELECT t.seq, new.title, new.statement, new.rationale, t.tags FROM rule_tags t
        WHERE t.seq = (SELECT seq FROM rule_keys WHERE rule_id = new.id) AND new.status = 'active';
END;

CREATE TRIGGER rules_index_text AFTER UPDATE OF title, statement, rationale, status ON rules BEGIN
    DELETE FROM rules_fts WHERE rowid = (SELECT seq FROM rule_keys WHERE rule_id = new.id);
    INSERT INTO rules_fts (rowid, title, statement, rationale, tags)
        SELECT t.seq, new.title, new.statement, new.rationale, t.tags FROM rule_tags t
        WHERE t.seq = (SELECT seq FROM rule_keys WHERE rule_id = new.id) AND new.status = 'active';
END;

CREATE TRIGGER rules_index_delete AFTER DELETE ON rules BEGIN
    DELETE FROM rules_fts WHERE rowid = (SELECT seq FROM rule_keys WHERE rule_id = old.id);
    DELETE FROM rule_globs WHERE seq = (SELECT seq FROM rule_keys WHERE rule_id = old.id);
    DELETE FROM rule_keys WHERE rule_id = old.id;
END;

-- Index the rules that exist already.
INSERT INTO rule_keys (rule_id) SELECT id FROM rules ORDER BY created_at, id;
INSERT OR IGNORE INTO scopes (key) SELECT DISTINCT COALESCE(repo, '') FROM rules;
INSERT OR IGNORE INTO glob_ids (scope, glob)
    SELECT COALESCE(r.repo, ''), j.value
    FROM rules r, json_each(CASE WHEN json_valid(r.globs) THEN r.globs ELSE '[]' END) j
    WHERE j.type = 'text' AND j.value <> '';
INSERT OR IGNORE INTO rule_globs (glob_id, seq)
    SELECT g.id, k.seq
    FROM rules r JOIN rule_keys k ON k.rule_id = r.id,
         json_each(CASE WHEN json_valid(r.globs) THEN r.globs ELSE '[]' END) j
    JOIN glob_ids g ON g.scope = COALESCE(r.repo, '') AND g.glob = j.value
    WHERE j.type = 'text';
INSERT INTO rules_fts (rowid, title, statement, rationale, tags)
    SELECT t.seq, r.title, r.statement, r.rationale, t.tags
    FROM rule_tags t JOIN rule_keys k ON k.seq = t.seq JOIN rules r ON r.id = k.rule_id
    WHERE r.status = 'active';
