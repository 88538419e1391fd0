//! The review model in `difflore.db` (migration `0002_reviews.sql`): upserts of PRs and
//! comments keyed by the platform's ids, and the per-source cursors.

use difflore_core::clock::now_ms;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// One pull / merge request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Pr {
    pub number: i64,
    pub title: String,
    pub author: Option<String>,
    pub state: Option<String>,
    pub merged_at: Option<String>,
    pub url: Option<String>,
    pub changed_paths: Vec<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// One review comment, as the platform gave it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Comment {
    pub platform_id: String,
    pub pr_number: i64,
    pub url: Option<String>,
    pub author: Option<String>,
    pub author_is_bot: bool,
    pub path: Option<String>,
    pub line: Option<i64>,
    pub diff_hunk: Option<String>,
    pub body: String,
    pub thread_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub resolved: Option<bool>,
    pub reactions: serde_json::Value,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// Inserts or updates a PR. Returns `true` when it was new or changed.
pub fn upsert_pr(c: &Connection, source: &str, repo: &str, p: &Pr) -> rusqlite::Result<bool> {
    let paths = serde_json::to_string(&p.changed_paths).unwrap_or_else(|_| "[]".into());
    let n = c.prepare_cached(
        "INSERT INTO review_prs (source, repo, number, title, author, state, merged_at, url, changed_paths, created_at, updated_at, imported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (source, repo, number) DO UPDATE SET
             title = excluded.title, author = excluded.author, state = excluded.state,
             merged_at = excluded.merged_at, url = excluded.url,
             changed_paths = CASE WHEN excluded.changed_paths = '[]' THEN review_prs.changed_paths ELSE excluded.changed_paths END,
             created_at = excluded.created_at, updated_at = excluded.updated_at
         WHERE review_prs.updated_at IS NOT excluded.updated_at OR review_prs.title IS NOT excluded.title
               OR review_prs.state IS NOT excluded.state",
    )?
    .execute(params![source, repo, p.number, p.title, p.author, p.state, p.merged_at, p.url, paths, p.created_at, p.updated_at, now_ms()],
    )?;
    Ok(n > 0)
}

/// Whether this pull request is stored.
pub fn has_pr(conn: &Connection, source: &str, repo: &str, number: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM review_prs WHERE source = ?1 AND repo = ?2 AND number = ?3)",
        rusqlite::params![source, repo, number],
        |r| r.get(0),
    )
}

/// Inserts or updates a comment (by platform id). Returns `true` when it was new or changed.
pub fn upsert_comment(
    c: &Connection,
    source: &str,
    repo: &str,
    m: &Comment,
) -> rusqlite::Result<bool> {
    let reactions = if m.reactions.is_null() {
        "{}".to_string()
    } else {
        m.reactions.to_string()
    };
    let n = c.prepare_cached(
        "INSERT INTO review_comments (source, repo, platform_id, pr_number, url, author, author_is_pr_author, author_is_bot,
                                      path, line, diff_hunk, body, thread_id, in_reply_to, resolved, reactions, created_at, updated_at, imported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6,
                 (SELECT CASE WHEN author IS NULL OR ?6 IS NULL THEN NULL WHEN author = ?6 THEN 1 ELSE 0 END
                  FROM review_prs WHERE source = ?1 AND repo = ?2 AND number = ?4),
                 ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT (source, repo, platform_id) DO UPDATE SET
             url = excluded.url, author = excluded.author, author_is_pr_author = excluded.author_is_pr_author,
             author_is_bot = excluded.author_is_bot, path = excluded.path, line = excluded.line,
             diff_hunk = excluded.diff_hunk, body = excluded.body, thread_id = excluded.thread_id,
             in_reply_to = excluded.in_reply_to, resolved = excluded.resolved, reactions = excluded.reactions,
             created_at = excluded.created_at, updated_at = excluded.updated_at
         WHERE review_comments.body IS NOT excluded.body OR review_comments.updated_at IS NOT excluded.updated_at
               OR review_comments.resolved IS NOT excluded.resolved OR review_comments.reactions IS NOT excluded.reactions",
    )?
    .execute(params![
            source, repo, m.platform_id, m.pr_number, m.url, m.author, m.author_is_bot, m.path, m.line, m.diff_hunk,
            m.body, m.thread_id, m.in_reply_to, m.resolved, reactions, m.created_at, m.updated_at, now_ms()
        ])?;
    Ok(n > 0)
}

/// Fills in what needs both sides: whether a comment's author wrote the PR (for comments that
/// arrived before their PR), and the PR's paths from its comments when the platform gave none.
pub fn finish(c: &Connection, source: &str, repo: &str) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE review_comments SET author_is_pr_author =
             (SELECT CASE WHEN p.author IS NULL OR review_comments.author IS NULL THEN NULL
                          WHEN p.author = review_comments.author THEN 1 ELSE 0 END
              FROM review_prs p WHERE p.source = review_comments.source AND p.repo = review_comments.repo
                                 AND p.number = review_comments.pr_number)
         WHERE source = ?1 AND repo = ?2 AND author_is_pr_author IS NULL",
        params![source, repo],
    )?;
    c.execute(
        "UPDATE review_prs SET changed_paths =
             (SELECT json_group_array(path) FROM (SELECT DISTINCT path FROM review_comments m
               WHERE m.source = review_prs.source AND m.repo = review_prs.repo AND m.pr_number = review_prs.number
                 AND m.path IS NOT NULL ORDER BY path))
         WHERE source = ?1 AND repo = ?2 AND changed_paths = '[]'",
        params![source, repo],
    )?;
    Ok(())
}

pub fn cursor(
    c: &Connection,
    source: &str,
    repo: &str,
    name: &str,
) -> rusqlite::Result<Option<String>> {
    c.query_row(
        "SELECT value FROM import_cursors WHERE source = ?1 AND repo = ?2 AND name = ?3",
        params![source, repo, name],
        |r| r.get(0),
    )
    .optional()
}

pub fn set_cursor(
    c: &Connection,
    source: &str,
    repo: &str,
    name: &str,
    value: &str,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO import_cursors (source, repo, name, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (source, repo, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![source, repo, name, value, now_ms()],
    )?;
    Ok(())
}

/// `updated_at` of a PR when its comments were last fetched completely.
pub fn comments_synced(
    c: &Connection,
    source: &str,
    repo: &str,
    number: i64,
) -> rusqlite::Result<Option<String>> {
    c.query_row(
        "SELECT comments_synced FROM review_prs WHERE source = ?1 AND repo = ?2 AND number = ?3",
        params![source, repo, number],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

pub fn set_comments_synced(
    c: &Connection,
    source: &str,
    repo: &str,
    number: i64,
    updated_at: &str,
) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE review_prs SET comments_synced = ?4 WHERE source = ?1 AND repo = ?2 AND number = ?3",
        params![source, repo, number, updated_at],
    )?;
    Ok(())
}

/// (PRs, comments) stored for a repo.
pub fn counts(c: &Connection, repo: &str) -> rusqlite::Result<(i64, i64)> {
    Ok((
        c.query_row(
            "SELECT COUNT(*) FROM review_prs WHERE repo = ?1",
            [repo],
            |r| r.get(0),
        )?,
        c.query_row(
            "SELECT COUNT(*) FROM review_comments WHERE repo = ?1",
            [repo],
            |r| r.get(0),
        )?,
    ))
}
