//! `difflore import gitlab`: merge requests (`GET /projects/:id/merge_requests`, newest update
//! first, `updated_after` the cursor) and their discussions (`GET …/merge_requests/:iid/discussions`;
//! note positions → path and line; system notes skipped). `X-Next-Page` pagination. A merge
//! request's discussions are stored in one transaction with its "synced" mark, so a resumed
//! import skips the merge requests already done.

use crate::http::Http;
use crate::store::{self, Comment, Pr};
use crate::{ImportError, Options, Progress, Summary, time_lt};
use rusqlite::Connection;
use serde_json::Value;

pub const SOURCE: &str = "gitlab";

use crate::json_str as s;

fn username(v: &Value) -> Option<String> {
    v.get("author")
        .and_then(|a| a.get("username"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `group/sub/project` → `group%2Fsub%2Fproject`.
pub fn encode_project(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn list(body: &str) -> Result<Vec<Value>, ImportError> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(a)) => Ok(a),
        _ => Err(ImportError::Http(
            "GitLab answered something that is not a list (is --api-url right?)".into(),
        )),
    }
}

fn with_page(url: &str, page: &str) -> String {
    format!("{url}&page={page}")
}

fn mr_from(v: &Value) -> Option<Pr> {
    let state = match s(v, "state").as_deref() {
        Some("opened") => Some("open".to_string()),
        other => other.map(str::to_string),
    };
    Some(Pr {
        number: v.get("iid")?.as_i64()?,
        title: s(v, "title").unwrap_or_default(),
        author: username(v),
        state,
        merged_at: s(v, "merged_at"),
        url: s(v, "web_url"),
        changed_paths: Vec::new(),
        created_at: s(v, "created_at"),
        updated_at: s(v, "updated_at"),
    })
}

fn is_bot(note: &Value) -> bool {
    let a = note.get("author");
    a.and_then(|a| a.get("bot"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || a.and_then(|a| a.get("username"))
            .and_then(Value::as_str)
            .is_some_and(|u| u.ends_with("-bot") || u.ends_with("_bot") || u.ends_with("[bot]"))
}

/// Imports the project at `path` (`group/project`) into repo key `repo`.
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
    let project = encode_project(path);
    let mut sum = Summary {
        schema_version: 1,
        source: SOURCE.into(),
        repo: repo.into(),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let cursor = store::cursor(conn, SOURCE, repo, "prs_updated")?;
    let floor = crate::later_of(opts.since.as_ref(), cursor.as_ref());
    let mut base = format!(
        "{api}/projects/{project}/merge_requests?state=all&order_by=updated_at&sort=desc&per_page=100"
    );
    if let Some(f) = &floor {
        base.push_str(&format!("&updated_after={}", crate::http::enc(f)));
    }
    progress.phase("merge requests", None);
    let (mrs, limited) = merge_requests(http, &base, opts, &mut sum, progress)?;
    sum.prs = mrs.len();
    if opts.dry_run {
        // Discussions cost a request per merge request: a dry run lists the merge requests only.
        sum.would_import = mrs
            .iter()
            .map(|m| crate::Planned {
                number: m.number,
                title: m.title.clone(),
                comments: None,
            })
            .collect();
        sum.requests = http.requests;
        sum.elapsed_s = started.elapsed().as_secs_f64();
        return Ok(sum);
    }
    progress.phase("discussions", Some(mrs.len() as u64));
    let mut newest: Option<String> = None;
    for mr in &mrs {
        let upd = mr.updated_at.clone().unwrap_or_default();
        if newest.as_deref().is_none_or(|n| time_lt(n, &upd)) {
            newest = Some(upd.clone());
        }
        store::upsert_pr(conn, SOURCE, repo, mr)?;
        if store::comments_synced(conn, SOURCE, repo, mr.number)?.as_deref() == Some(upd.as_str()) {
            progress.inc(1);
            continue; // done in an earlier (interrupted) run
        }
        let durl = format!(
            "{api}/projects/{project}/merge_requests/{}/discussions?per_page=100",
            mr.number
        );
        let notes = discussions(http, &durl, mr, &mut sum, progress)?;
        let tx = difflore_core::store::write_tx(conn)?;
        for c in &notes {
            if store::upsert_comment(&tx, SOURCE, repo, c)? {
                sum.comments += 1;
            }
        }
        store::set_comments_synced(&tx, SOURCE, repo, mr.number, &upd)?;
        tx.commit()?;
        progress.inc(1);
    }
    store::finish(conn, SOURCE, repo)?;
    if let (Some(n), false) = (&newest, limited) {
        store::set_cursor(conn, SOURCE, repo, "prs_updated", n)?;
    }
    sum.requests = http.requests;
    sum.elapsed_s = started.elapsed().as_secs_f64();
    Ok(sum)
}

/// The `x-next-page` of an answer, when there is one.
fn next_page(r: &crate::http::Resp) -> Option<String> {
    r.header("x-next-page")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// Every merge request of the listing (newest update first), up to `--max-prs`; `true` when
/// that limit cut the list.
fn merge_requests(
    http: &mut Http,
    base: &str,
    opts: &Options,
    sum: &mut Summary,
    progress: &mut dyn Progress,
) -> Result<(Vec<Pr>, bool), ImportError> {
    let mut mrs: Vec<Pr> = Vec::new();
    let mut next = Some("1".to_string());
    while let Some(p) = next.take() {
        let r = http.get(&with_page(base, &p), progress)?;
        for v in list(&r.body)? {
            let Some(mr) = mr_from(&v) else {
                sum.skip(
                    "merge request without an iid",
                    v.get("id").map_or_else(|| "?".into(), |i| i.to_string()),
                );
                continue;
            };
            if opts.max_prs.is_some_and(|m| mrs.len() >= m) {
                return Ok((mrs, true));
            }
            mrs.push(mr);
        }
        next = next_page(&r);
    }
    Ok((mrs, false))
}

/// The review notes of one merge request's discussions (system notes skipped, with reasons);
/// a thread's first note is what its replies answer.
fn discussions(
    http: &mut Http,
    durl: &str,
    mr: &Pr,
    sum: &mut Summary,
    progress: &mut dyn Progress,
) -> Result<Vec<Comment>, ImportError> {
    let mut notes: Vec<Comment> = Vec::new();
    let mut next = Some("1".to_string());
    while let Some(p) = next.take() {
        let r = http.get(&with_page(durl, &p), progress)?;
        for d in list(&r.body)? {
            let thread = s(&d, "id");
            let mut first: Option<String> = None;
            for n in d
                .get("notes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if n.get("system").and_then(Value::as_bool).unwrap_or(false) {
                    sum.skip(
                        "system note (GitLab's own record of an event, not a review comment)",
                        n.get("id").map_or_else(|| "?".into(), |i| i.to_string()),
                    );
                    continue;
                }
                let Some(c) = note(n, mr, thread.clone(), first.clone()) else {
                    sum.skip("note without an id", thread.as_deref().unwrap_or("?"));
                    continue;
                };
                if first.is_none() {
                    first = Some(c.platform_id.clone());
                }
                notes.push(c);
            }
        }
        next = next_page(&r);
    }
    Ok(notes)
}

/// One GitLab note as a review comment; `None` without an id.
fn note(n: &Value, mr: &Pr, thread: Option<String>, first: Option<String>) -> Option<Comment> {
    let id = n.get("id").and_then(Value::as_i64)?.to_string();
    let pos = n.get("position");
    let path = pos.and_then(|p| s(p, "new_path").or(s(p, "old_path")));
    let line = pos.and_then(|p| {
        p.get("new_line")
            .and_then(Value::as_i64)
            .or(p.get("old_line").and_then(Value::as_i64))
    });
    Some(Comment {
        url: mr.url.as_ref().map(|u| format!("{u}#note_{id}")),
        platform_id: id,
        pr_number: mr.number,
        author: username(n),
        author_is_bot: is_bot(n),
        path,
        line,
        diff_hunk: None,
        body: s(n, "body").unwrap_or_default(),
        thread_id: thread,
        in_reply_to: first,
        resolved: n
            .get("resolvable")
            .and_then(Value::as_bool)
            .filter(|r| *r)
            .and(n.get("resolved").and_then(Value::as_bool)),
        reactions: Value::Object(Default::default()),
        created_at: s(n, "created_at"),
        updated_at: s(n, "updated_at"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn project_paths_are_encoded() {
        assert_eq!(
            super::encode_project("group/sub/my.proj"),
            "group%2Fsub%2Fmy.proj"
        );
    }
}
