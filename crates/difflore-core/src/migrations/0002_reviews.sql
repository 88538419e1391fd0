-- Schema 2: imported review history, kept raw so extraction can be re-run.
CREATE TABLE review_prs (
    id               INTEGER PRIMARY KEY,
    source           TEXT    NOT NULL,            -- github | gitlab | file
    repo             TEXT    NOT NULL,            -- repo key (DESIGN §9)
    number           INTEGER NOT NULL,
    title            TEXT    NOT NULL DEFAULT '',
    author           TEXT,
    state            TEXT,                        -- open | closed | merged
    merged_at        TEXT,
    url              TEXT,
    changed_paths    TEXT    NOT NULL DEFAULT '[]', -- JSON array of repo-relative paths
    created_at       TEXT,
    updated_at       TEXT,
    -- updated_at of the PR when its comments were last fetched completely (resume marker).
    comments_synced  TEXT,
    imported_at      INTEGER NOT NULL,
    UNIQUE (source, repo, number)
);

CREATE TABLE review_comments (
    id                  INTEGER PRIMARY KEY,
    source              TEXT    NOT NULL,
    repo                TEXT    NOT NULL,
    platform_id         TEXT    NOT NULL,
    pr_number           INTEGER NOT NULL,
    url                 TEXT,
    author              TEXT,
    author_is_pr_author INTEGER,                  -- 1 / 0 / NULL when the PR is unknown
    author_is_bot       INTEGER NOT NULL DEFAULT 0,
    path                TEXT,
    line                INTEGER,
    diff_hunk           TEXT,
    body                TEXT    NOT NULL,
    thread_id           TEXT,
    in_reply_to         TEXT,
    resolved            INTEGER,                  -- 1 / 0 / NULL when unknown
    reactions           TEXT    NOT NULL DEFAULT '{}',
    created_at          TEXT,
    updated_at          TEXT,
    imported_at         INTEGER NOT NULL,
    UNIQUE (source, repo, platform_id)
);
CREATE INDEX review_comments_pr ON review_comments (source, repo, pr_number);

-- Where each source's incremental import stands, per repo.
CREATE TABLE import_cursors (
    source     TEXT NOT NULL,
    repo       TEXT NOT NULL,
    name       TEXT NOT NULL,                    -- e.g. prs_updated, comments_updated
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source, repo, name)
) WITHOUT ROWID;
