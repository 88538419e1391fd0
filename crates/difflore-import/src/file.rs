//! `difflore import file PATH`: review history in a documented JSON format (README), for other
//! forges and air-gapped use. The whole file is validated before anything is written; every
//! error names the record and the field (`pull_requests[3].comments[1].body: missing`).

use crate::store::{self, Comment, Pr};
use crate::{ImportError, Summary, is_rfc3339};
use rusqlite::Connection;
use serde_json::Value;

pub const SOURCE: &str = "file";

fn err(at: &str, msg: &str) -> ImportError {
    ImportError::Invalid(format!("{at}: {msg}"))
}

fn opt_str(v: &Value, k: &str, at: &str) -> Result<Option<String>, ImportError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(&format!("{at}.{k}"), "must be a string")),
    }
}

fn opt_time(v: &Value, k: &str, at: &str) -> Result<Option<String>, ImportError> {
    let t = opt_str(v, k, at)?;
    if let Some(s) = &t
        && !is_rfc3339(s)
    {
        return Err(err(
            &format!("{at}.{k}"),
            &format!("{s:?} is not an RFC 3339 time"),
        ));
    }
    Ok(t)
}

fn opt_int(v: &Value, k: &str, at: &str) -> Result<Option<i64>, ImportError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| err(&format!("{at}.{k}"), "must be an integer")),
    }
}

fn id_text(v: &Value, k: &str, at: &str) -> Result<Option<String>, ImportError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(err(
            &format!("{at}.{k}"),
            "must be a non-empty string or a number",
        )),
    }
}

/// A parsed and validated file: (repo key, PRs with their comments).
pub struct Parsed {
    pub repo: String,
    pub prs: Vec<(Pr, Vec<Comment>)>,
}

pub fn parse(text: &str, repo_override: Option<&str>) -> Result<Parsed, ImportError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ImportError::Invalid(format!("not valid JSON: {e}")))?;
    let root = v
        .as_object()
        .ok_or_else(|| err("(root)", "must be a JSON object"))?;
    match root.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(_) => return Err(err("version", "only version 1 is supported")),
        None => return Err(err("version", "missing (use 1)")),
    }
    let repo = match (repo_override, root.get("repo")) {
        (Some(r), _) => r.to_string(),
        (None, Some(Value::String(r))) if !r.trim().is_empty() => r.trim().to_ascii_lowercase(),
        (None, Some(_)) => {
            return Err(err(
                "repo",
                "must be a non-empty string like git.example.com/team/app",
            ));
        }
        (None, None) => return Err(err("repo", "missing (or pass --repo)")),
    };
    let prs = root
        .get("pull_requests")
        .ok_or_else(|| err("pull_requests", "missing"))?
        .as_array()
        .ok_or_else(|| err("pull_requests", "must be an array"))?;
    let mut out = Vec::with_capacity(prs.len());
    let mut numbers = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for (i, p) in prs.iter().enumerate() {
        let at = format!("pull_requests[{i}]");
        let pr = pull_request(p, &at)?;
        if !numbers.insert(pr.number) {
            return Err(err(
                &format!("{at}.number"),
                &format!("{} appears twice", pr.number),
            ));
        }
        let list = match p.get("comments") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => &a[..],
            Some(_) => return Err(err(&format!("{at}.comments"), "must be an array")),
        };
        let mut comments = Vec::with_capacity(list.len());
        for (j, c) in list.iter().enumerate() {
            let c = comment(c, pr.number, &format!("{at}.comments[{j}]"))?;
            if !ids.insert(c.platform_id.clone()) {
                return Err(err(
                    &format!("{at}.comments[{j}].id"),
                    &format!("{:?} appears twice", c.platform_id),
                ));
            }
            comments.push(c);
        }
        out.push((pr, comments));
    }
    Ok(Parsed { repo, prs: out })
}

/// One pull request object at `at` (its comments are read apart).
fn pull_request(p: &Value, at: &str) -> Result<Pr, ImportError> {
    if !p.is_object() {
        return Err(err(at, "must be an object"));
    }
    let number =
        opt_int(p, "number", at)?.ok_or_else(|| err(&format!("{at}.number"), "missing"))?;
    let changed_paths = match p.get("changed_paths") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(j, x)| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(&format!("{at}.changed_paths[{j}]"), "must be a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(err(
                &format!("{at}.changed_paths"),
                "must be an array of paths",
            ));
        }
    };
    let state = opt_str(p, "state", at)?;
    if let Some(s) = &state
        && !matches!(s.as_str(), "open" | "closed" | "merged")
    {
        return Err(err(
            &format!("{at}.state"),
            "must be open, closed or merged",
        ));
    }
    Ok(Pr {
        number,
        title: opt_str(p, "title", at)?.unwrap_or_default(),
        author: opt_str(p, "author", at)?,
        state,
        merged_at: opt_time(p, "merged_at", at)?,
        url: opt_str(p, "url", at)?,
        changed_paths,
        created_at: opt_time(p, "created_at", at)?,
        updated_at: opt_time(p, "updated_at", at)?,
    })
}

/// One review comment object at `cat`, of pull request `number`.
fn comment(c: &Value, number: i64, cat: &str) -> Result<Comment, ImportError> {
    if !c.is_object() {
        return Err(err(cat, "must be an object"));
    }
    let id = id_text(c, "id", cat)?.ok_or_else(|| err(&format!("{cat}.id"), "missing"))?;
    let body = match c.get("body") {
        Some(Value::String(b)) if !b.trim().is_empty() => b.clone(),
        Some(Value::String(_)) => return Err(err(&format!("{cat}.body"), "is empty")),
        Some(_) => return Err(err(&format!("{cat}.body"), "must be a string")),
        None => return Err(err(&format!("{cat}.body"), "missing")),
    };
    let path = opt_str(c, "path", cat)?;
    if let Some(pth) = &path
        && (pth.starts_with('/') || pth.contains('\\') || pth.split('/').any(|s| s == ".."))
    {
        return Err(err(
            &format!("{cat}.path"),
            "must be repo-relative with / (no leading /, no ..)",
        ));
    }
    let resolved = match c.get("resolved") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(err(
                &format!("{cat}.resolved"),
                "must be true, false or null",
            ));
        }
    };
    let reactions = match c.get("reactions") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(r @ Value::Object(m)) if m.values().all(|x| x.as_u64().is_some()) => r.clone(),
        Some(_) => {
            return Err(err(
                &format!("{cat}.reactions"),
                "must be an object of counts, e.g. {\"+1\": 2}",
            ));
        }
    };
    let author = opt_str(c, "author", cat)?;
    let named_like_a_bot = author.as_deref().is_some_and(|a| {
        let a = a.to_ascii_lowercase();
        a.ends_with("[bot]") || a.ends_with("-bot") || a.ends_with("_bot")
    });
    let is_bot = match c.get("is_bot") {
        None | Some(Value::Null) => named_like_a_bot,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err(&format!("{cat}.is_bot"), "must be true or false")),
    };
    let in_reply_to = id_text(c, "in_reply_to", cat)?;
    Ok(Comment {
        platform_id: id.clone(),
        pr_number: number,
        url: opt_str(c, "url", cat)?,
        author,
        author_is_bot: is_bot,
        path,
        line: opt_int(c, "line", cat)?,
        diff_hunk: opt_str(c, "diff_hunk", cat)?,
        body,
        thread_id: id_text(c, "thread", cat)?
            .or(in_reply_to.clone())
            .or(Some(id)),
        in_reply_to,
        resolved,
        reactions,
        created_at: opt_time(c, "created_at", cat)?,
        updated_at: opt_time(c, "updated_at", cat)?,
    })
}

/// Stores a parsed file in one transaction.
pub fn store_all(
    conn: &Connection,
    parsed: &Parsed,
    dry_run: bool,
) -> Result<Summary, ImportError> {
    let started = std::time::Instant::now();
    let mut sum = Summary {
        schema_version: 1,
        source: SOURCE.into(),
        repo: parsed.repo.clone(),
        dry_run,
        ..Default::default()
    };
    sum.prs = parsed.prs.len();
    if dry_run {
        sum.comments = parsed.prs.iter().map(|(_, c)| c.len()).sum();
        sum.would_import = parsed
            .prs
            .iter()
            .map(|(p, c)| crate::Planned {
                number: p.number,
                title: p.title.clone(),
                comments: Some(c.len()),
            })
            .collect();
        return Ok(sum);
    }
    let tx = difflore_core::store::write_tx(conn)?;
    for (pr, comments) in &parsed.prs {
        store::upsert_pr(&tx, SOURCE, &parsed.repo, pr)?;
        for c in comments {
            if store::upsert_comment(&tx, SOURCE, &parsed.repo, c)? {
                sum.comments += 1;
            } else {
                sum.skip("comment already imported, unchanged", &c.platform_id);
            }
        }
    }
    store::finish(&tx, SOURCE, &parsed.repo)?;
    tx.commit()?;
    sum.elapsed_s = started.elapsed().as_secs_f64();
    Ok(sum)
}
