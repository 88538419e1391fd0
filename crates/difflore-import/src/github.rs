//! `difflore import github`: pull requests (`GET /repos/{o}/{r}/pulls`, newest update first, until
//! the last run's cursor) and their review comments (`GET /repos/{o}/{r}/pulls/comments`, oldest
//! update first, `since` the comments cursor — which advances with every stored page, so an
//! interrupted import resumes mid-way). `Link` pagination throughout.

use crate::http::{Http, enc, link_next};
use crate::store::{self, Comment, Pr};
use crate::{ImportError, Options, Progress, Summary, time_lt};
use rusqlite::Connection;
use serde_json::Value;

pub const SOURCE: &str = "github";

use crate::json_str as s;

fn login(v: &Value) -> Option<String> {
    v.get("user")
        .and_then(|u| u.get("login"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn is_bot(v: &Value) -> bool {
    let u = v.get("user");
    u.and_then(|u| u.get("type")).and_then(Value::as_str) == Some("Bot")
        || u.and_then(|u| u.get("login"))
            .and_then(Value::as_str)
            .is_some_and(|l| l.ends_with("[bot]"))
}

fn pr_from(v: &Value) -> Option<Pr> {
    let merged_at = s(v, "merged_at");
    let state = if merged_at.is_some() {
        Some("merged".to_string())
    } else {
        s(v, "state")
    };
    Some(Pr {
        number: v.get("number")?.as_i64()?,
        title: s(v, "title").unwrap_or_default(),
        author: login(v),
        state,
        merged_at,
        url: s(v, "html_url"),
        changed_paths: Vec::new(),
        created_at: s(v, "created_at"),
        updated_at: s(v, "updated_at"),
    })
}

fn comment_from(v: &Value) -> Option<Comment> {
    let pr_number = s(v, "pull_request_url")?.rsplit('/').next()?.parse().ok()?;
    let id = v.get("id")?.as_i64()?;
    let reply = v.get("in_reply_to_id").and_then(Value::as_i64);
    Some(Comment {
        platform_id: id.to_string(),
        pr_number,
        url: s(v, "html_url"),
        author: login(v),
        author_is_bot: is_bot(v),
        path: s(v, "path"),
        line: v
            .get("line")
            .and_then(Value::as_i64)
            .or(v.get("original_line").and_then(Value::as_i64)),
        diff_hunk: s(v, "diff_hunk"),
        body: s(v, "body").unwrap_or_default(),
        // A thread is its first comment: replies point at it.
        thread_id: Some(reply.unwrap_or(id).to_string()),
        in_reply_to: reply.map(|r| r.to_string()),
        resolved: None,
        reactions: v
            .get("reactions")
            .cloned()
            .map(|mut r| {
                if let Some(o) = r.as_object_mut() {
                    o.remove("url");
                }
                r
            })
            .unwrap_or(Value::Null),
        created_at: s(v, "created_at"),
        updated_at: s(v, "updated_at"),
    })
}

/// An item's id for messages (`?` when it has none).
fn item_id(v: &Value) -> String {
    v.get("id")
        .or(v.get("number"))
        .map_or_else(|| "?".into(), |i| i.to_string())
}

fn page(resp_body: &str) -> Result<Vec<Value>, ImportError> {
    match serde_json::from_str::<Value>(resp_body) {
        Ok(Value::Array(a)) => Ok(a),
        _ => Err(ImportError::Http(
            "GitHub answered something that is not a list (is --api-url right?)".into(),
        )),
    }
}

/// Imports `path` (`owner/name`) into repo key `repo`.
pub fn import(
    conn: &Connection,
    http: &mut Http,
    api: &str,
    path: &str,
    repo: &str,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<Summary, ImportError> {
    let started = std::time::Instant::now();
    let api = api.trim_end_matches('/');
    let (owner, name) = path
        .split_once('/')
        .ok_or_else(|| ImportError::Invalid(format!("{path:?} is not OWNER/REPO")))?;
    let mut run = Run {
        conn,
        http,
        repo,
        opts,
        progress,
        sum: Summary {
            schema_version: 1,
            source: SOURCE.into(),
            repo: repo.into(),
            dry_run: opts.dry_run,
            ..Default::default()
        },
    };
    // 1. Pull requests, newest update first, down to the floor.
    let prs_cursor = store::cursor(conn, SOURCE, repo, "prs_updated")?;
    let floor = crate::later_of(opts.since.as_ref(), prs_cursor.as_ref());
    let (newest, limited) = run.pull_requests(
        format!(
            "{api}/repos/{owner}/{name}/pulls?state=all&sort=updated&direction=desc&per_page=100"
        ),
        floor.as_deref(),
    )?;
    // 2. Review comments, oldest update first, since the comments cursor.
    let comments_cursor = store::cursor(conn, SOURCE, repo, "comments_updated")?;
    let since = crate::later_of(opts.since.as_ref(), comments_cursor.as_ref());
    let url = format!(
        "{api}/repos/{owner}/{name}/pulls/comments?sort=updated&direction=asc&per_page=100"
    );
    run.review_comments(
        match &since {
            Some(s) => format!("{url}&since={}", enc(s)),
            None => url,
        },
        limited,
    )?;
    let mut sum = run.sum;
    if !opts.dry_run {
        store::finish(conn, SOURCE, repo)?;
        if let (Some(n), false) = (&newest, limited) {
            store::set_cursor(conn, SOURCE, repo, "prs_updated", n)?;
        }
    }
    sum.requests = http.requests;
    sum.elapsed_s = started.elapsed().as_secs_f64();
    Ok(sum)
}

/// One import run's parts.
struct Run<'a> {
    conn: &'a Connection,
    http: &'a mut Http,
    repo: &'a str,
    opts: &'a Options,
    progress: &'a mut dyn Progress,
    sum: Summary,
}

impl Run<'_> {
    /// Pull requests from `url` on, newest update first, down to `floor` (or `--max-prs`);
    /// returns the newest update seen and whether `--max-prs` cut the list.
    fn pull_requests(
        &mut self,
        url: String,
        floor: Option<&str>,
    ) -> Result<(Option<String>, bool), ImportError> {
        self.progress.phase("pull requests", None);
        let mut url = Some(url);
        let mut newest: Option<String> = None;
        while let Some(u) = url.take() {
            let r = self.http.get(&u, self.progress)?;
            let items = page(&r.body)?;
            let tx = difflore_core::store::write_tx(self.conn)?;
            for v in &items {
                let Some(pr) = pr_from(v) else {
                    self.sum.skip("pull request without a number", item_id(v));
                    continue;
                };
                let upd = pr.updated_at.clone().unwrap_or_default();
                if floor.is_some_and(|f| time_lt(&upd, f)) {
                    tx.commit()?;
                    return Ok((newest, false));
                }
                if self.opts.max_prs.is_some_and(|m| self.sum.prs >= m) {
                    tx.commit()?;
                    return Ok((newest, true));
                }
                if newest.as_deref().is_none_or(|n| time_lt(n, &upd)) {
                    newest = Some(upd);
                }
                if self.opts.dry_run {
                    self.sum.would_import.push(crate::Planned {
                        number: pr.number,
                        title: pr.title.clone(),
                        comments: Some(0),
                    });
                } else {
                    store::upsert_pr(&tx, SOURCE, self.repo, &pr)?;
                }
                self.sum.prs += 1;
                self.progress.inc(1);
            }
            tx.commit()?;
            url = link_next(r.header("link"));
        }
        Ok((newest, false))
    }

    /// Review comments from `url` on, oldest update first; the comments cursor advances per
    /// page (not with `--max-prs`, whose skipped comments a full import must still fetch).
    fn review_comments(&mut self, url: String, limited: bool) -> Result<(), ImportError> {
        self.progress.phase("review comments", None);
        let mut url = Some(url);
        while let Some(u) = url.take() {
            let r = self.http.get(&u, self.progress)?;
            let items = page(&r.body)?;
            let tx = difflore_core::store::write_tx(self.conn)?;
            let mut last = None;
            for v in &items {
                let Some(c) = comment_from(v) else {
                    self.sum.skip(
                        "review comment without an id or a pull_request_url naming its pull request",
                        item_id(v),
                    );
                    continue;
                };
                // The newest time seen, not the last item's: pages need not be perfectly ordered.
                if let Some(u) = &c.updated_at
                    && last.as_deref().is_none_or(|l: &str| time_lt(l, u))
                {
                    last = Some(u.clone());
                }
                if self.opts.dry_run {
                    self.plan(&c);
                    continue;
                }
                if limited && !store::has_pr(&tx, SOURCE, self.repo, c.pr_number)? {
                    self.sum.skip(
                        "comment of a pull request left out by --max-prs",
                        &c.platform_id,
                    );
                    continue;
                }
                if store::upsert_comment(&tx, SOURCE, self.repo, &c)? {
                    self.sum.comments += 1;
                }
                self.progress.inc(1);
            }
            if let (Some(l), false, false) = (&last, limited, self.opts.dry_run) {
                store::set_cursor(&tx, SOURCE, self.repo, "comments_updated", l)?;
            }
            tx.commit()?;
            url = link_next(r.header("link"));
        }
        Ok(())
    }

    /// A dry run counts a comment against the pull request listed above; nothing is stored.
    fn plan(&mut self, c: &Comment) {
        match self
            .sum
            .would_import
            .iter_mut()
            .find(|p| p.number == c.pr_number)
        {
            Some(p) => {
                p.comments = Some(p.comments.unwrap_or(0) + 1);
                self.sum.comments += 1;
            }
            None => self.sum.skip(
                "comment of a pull request outside this run (--since / --max-prs)",
                &c.platform_id,
            ),
        }
    }
}
