//! `difflore import` against recorded GitHub REST / GitLab v4 answers served locally:
//! pagination, rate limits, 5xx retries, incremental re-import, resume after an interruption,
//! bad tokens, and the offline file format.

mod common;
use common::Env;
use common::forge::{Answer, Forge, at, ok};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const PRS: i64 = 120;

fn gh_pr(n: i64) -> Value {
    json!({
        "number": n, "title": format!("PR {n}"), "state": if n % 4 == 0 { "open" } else { "closed" },
        "html_url": format!("https://github.com/acme/shop/pull/{n}"),
        "user": {"login": format!("author{}", n % 3), "type": "User"},
        "merged_at": if n % 4 == 1 { Value::String(at(n)) } else { Value::Null },
        "created_at": at(n), "updated_at": at(1000 + n)
    })
}

fn gh_comment(i: i64) -> Value {
    let pr = i % PRS + 1;
    let bot = i == 7;
    json!({
        "id": 5000 + i,
        "pull_request_url": format!("https://api.github.com/repos/acme/shop/pulls/{pr}"),
        "html_url": format!("https://github.com/acme/shop/pull/{pr}#discussion_r{}", 5000 + i),
        "user": {"login": if bot { "ci-helper[bot]".to_string() } else if i % 11 == 0 { format!("author{}", pr % 3) } else { format!("rev{}", i % 5) },
                 "type": if bot { "Bot" } else { "User" }},
        "path": format!("src/f{}.rs", i % 7), "line": i + 1, "original_line": i + 1,
        "diff_hunk": "@@ -1,3 +1,3 @@\n-let x: f64\n+let x: Money",
        "body": format!("Use Money instead of f64 here ({i})."),
        "in_reply_to_id": if i % 10 == 9 { json!(5000 + i - 1) } else { Value::Null },
        "reactions": {"url": "https://api.github.com/x", "total_count": i % 3, "+1": i % 3, "-1": 0},
        "created_at": at(2000 + i), "updated_at": at(2000 + i)
    })
}

/// GitHub with `comments` comments; `faults` scripts one-shot and permanent failures.
struct Gh {
    comments: Arc<Mutex<i64>>,
    rate_limited_once: AtomicUsize,
    bad_gateway_once: AtomicUsize,
    fail_page3_forever: std::sync::atomic::AtomicBool,
}

fn github(state: Arc<Gh>, base: String) -> Arc<common::forge::Handler> {
    Arc::new(
        move |path: &str, q: &HashMap<String, String>, h: &HashMap<String, String>| -> Answer {
            if h.get("authorization").map(String::as_str) == Some("Bearer bad") {
                return (
                    401,
                    vec![],
                    json!({"message": "Bad credentials"}).to_string(),
                );
            }
            let page: i64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let link = |next: Option<i64>, path: &str, extra: &str| -> Vec<(String, String)> {
                next.map(|n| vec![("Link".to_string(), format!("<{base}{path}?{extra}&per_page=100&page={n}>; rel=\"next\", <{base}{path}?page=9>; rel=\"last\""))]).unwrap_or_default()
            };
            match path {
                "/repos/acme/shop/pulls" => {
                    let all: Vec<Value> = (1..=PRS).rev().map(gh_pr).collect();
                    let chunk: Vec<Value> = all
                        .iter()
                        .skip(((page - 1) * 100) as usize)
                        .take(100)
                        .cloned()
                        .collect();
                    let next = (page * 100 < PRS).then_some(page + 1);
                    (
                        200,
                        link(next, path, "state=all&sort=updated&direction=desc"),
                        Value::Array(chunk).to_string(),
                    )
                }
                "/repos/acme/shop/pulls/comments" => {
                    if page == 2 && state.rate_limited_once.fetch_add(1, Ordering::SeqCst) == 0 {
                        return (
                            429,
                            vec![("Retry-After".into(), "1".into())],
                            json!({"message": "secondary rate limit"}).to_string(),
                        );
                    }
                    if page == 3 && state.fail_page3_forever.load(Ordering::SeqCst) {
                        return (500, vec![], json!({"message": "boom"}).to_string());
                    }
                    if page == 3 && state.bad_gateway_once.fetch_add(1, Ordering::SeqCst) == 0 {
                        return (502, vec![], "<html>bad gateway</html>".into());
                    }
                    let n = *state.comments.lock().unwrap();
                    let since = q.get("since").cloned();
                    let all: Vec<Value> = (0..n)
                        .map(gh_comment)
                        .filter(|c| {
                            since
                                .as_deref()
                                .is_none_or(|s| c["updated_at"].as_str().unwrap() >= s)
                        })
                        .collect();
                    let chunk: Vec<Value> = all
                        .iter()
                        .skip(((page - 1) * 100) as usize)
                        .take(100)
                        .cloned()
                        .collect();
                    let next = ((page * 100) < all.len() as i64).then_some(page + 1);
                    let extra = since
                        .map(|s| format!("sort=updated&direction=asc&since={s}"))
                        .unwrap_or_else(|| "sort=updated&direction=asc".into());
                    (
                        200,
                        link(next, path, &extra),
                        Value::Array(chunk).to_string(),
                    )
                }
                _ => (404, vec![], json!({"message": "Not Found"}).to_string()),
            }
        },
    )
}

fn gh_setup(comments: i64) -> (Arc<Gh>, Forge) {
    let st = Arc::new(Gh {
        comments: Arc::new(Mutex::new(comments)),
        rate_limited_once: AtomicUsize::new(0),
        bad_gateway_once: AtomicUsize::new(0),
        fail_page3_forever: false.into(),
    });
    let f = Forge::start(github(st.clone(), String::new()));
    f.set(github(st.clone(), f.url.clone()));
    (st, f)
}

fn import_gh(e: &Env, forge: &Forge, token: &str, extra: &[&str]) -> (String, String, i32) {
    let mut args = vec!["import", "github", "acme/shop", "--api-url", &forge.url];
    args.extend_from_slice(extra);
    let o = e
        .cmd(&args)
        .env("GITHUB_TOKEN", token)
        .env("DIFFLORE_TEST_IMPORT_BACKOFF_MS", "10")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn db(e: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(e.db()).unwrap()
}

fn count(e: &Env, sql: &str) -> i64 {
    db(e).query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn github_paginates_waits_out_rate_limits_and_retries_5xx() {
    let (_st, forge) = gh_setup(250);
    let e = Env::init();
    let (out, err, code) = import_gh(&e, &forge, "t0ken-secret", &["--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (s["prs"].as_i64(), s["comments"].as_i64()),
        (Some(PRS), Some(250)),
        "{s}"
    );
    assert_eq!(s["repo"], "127.0.0.1/acme/shop");
    assert!(err.contains("rate limit reached; waiting 1 s"), "{err}");
    assert!(err.contains("answered 502; retrying"), "{err}");
    assert!(
        !err.contains("t0ken-secret") && !out.contains("t0ken-secret"),
        "token leaked"
    );
    assert_eq!(count(&e, "SELECT COUNT(*) FROM review_prs"), PRS);
    assert_eq!(count(&e, "SELECT COUNT(*) FROM review_comments"), 250);
    // Fields kept raw and faithful.
    let c = db(&e);
    let (path, line, hunk, reply, reactions, bot, prauth): (String, i64, String, Option<String>, String, bool, Option<bool>) = c
        .query_row(
            "SELECT path, line, diff_hunk, in_reply_to, reactions, author_is_bot, author_is_pr_author FROM review_comments WHERE platform_id = '5009'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .unwrap();
    assert_eq!(
        (path.as_str(), line, reply.as_deref()),
        ("src/f2.rs", 10, Some("5008"))
    );
    assert!(hunk.contains("+let x: Money"));
    assert!(
        !reactions.contains("url") && reactions.contains("\"+1\":0"),
        "{reactions}"
    );
    assert!(!bot);
    assert_eq!(prauth, Some(false));
    assert_eq!(
        count(
            &e,
            "SELECT author_is_bot FROM review_comments WHERE platform_id = '5007'"
        ),
        1
    );
    assert_eq!(
        count(
            &e,
            "SELECT author_is_pr_author FROM review_comments WHERE platform_id = '5011'"
        ),
        1
    );
    assert_eq!(
        count(&e, "SELECT COUNT(*) FROM review_prs WHERE state = 'merged'"),
        30
    );
    assert!(
        count(
            &e,
            "SELECT COUNT(*) FROM review_prs WHERE changed_paths != '[]'"
        ) > 100
    );
}

#[test]
fn github_reimport_fetches_only_what_is_new() {
    let (st, forge) = gh_setup(250);
    let e = Env::init();
    assert_eq!(import_gh(&e, &forge, "t", &[]).2, 0);
    forge.clear_log();
    let (out, _, code) = import_gh(&e, &forge, "t", &["--json"]);
    assert_eq!(code, 0);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["comments"], 0, "{s}");
    let log = forge.requests();
    assert!(
        log.iter()
            .any(|r| r.contains("pulls/comments") && r.contains("since=")),
        "{log:?}"
    );
    assert!(
        log.len() <= 4,
        "a re-run makes a handful of requests, not a full crawl: {log:?}"
    );
    *st.comments.lock().unwrap() = 253;
    let (out, _, _) = import_gh(&e, &forge, "t", &["--json"]);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["comments"], 3, "{s}");
    assert_eq!(count(&e, "SELECT COUNT(*) FROM review_comments"), 253);
}

#[test]
fn github_interrupted_import_resumes_without_duplicates() {
    let (st, forge) = gh_setup(250);
    st.fail_page3_forever.store(true, Ordering::SeqCst);
    let e = Env::init();
    let (_, err, code) = import_gh(&e, &forge, "t", &[]);
    assert_eq!(code, 1);
    assert!(err.contains("kept failing (500)"), "{err}");
    assert_eq!(
        count(&e, "SELECT COUNT(*) FROM review_comments"),
        200,
        "two pages were stored"
    );
    st.fail_page3_forever.store(false, Ordering::SeqCst);
    forge.clear_log();
    let (out, err, code) = import_gh(&e, &forge, "t", &["--json"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["comments"], 50, "only the rest: {s}");
    assert_eq!(count(&e, "SELECT COUNT(*) FROM review_comments"), 250);
    assert_eq!(
        count(
            &e,
            "SELECT COUNT(DISTINCT platform_id) FROM review_comments"
        ),
        250
    );
    assert!(forge.requests().iter().any(|r| r.contains("since=")));
}

#[test]
fn github_bad_token_dry_run_and_max_prs() {
    let (_st, forge) = gh_setup(250);
    let e = Env::init();
    let (_, err, code) = import_gh(&e, &forge, "bad", &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("GitHub rejected the token (401)") && err.contains("Bad credentials"),
        "{err}"
    );
    let (out, _, code) = import_gh(&e, &forge, "t", &["--dry-run"]);
    assert_eq!(code, 0);
    assert!(out.contains("would import 120 pull requests"), "{out}");
    assert_eq!(
        count(&e, "SELECT COUNT(*) FROM review_prs"),
        0,
        "dry run stores nothing"
    );
    let (out, _, code) = import_gh(&e, &forge, "t", &["--max-prs", "10", "--json"]);
    assert_eq!(code, 0);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["prs"], 10);
    assert!(s["skipped"].as_i64().unwrap() > 0);
    assert_eq!(
        count(&e, "SELECT COUNT(DISTINCT pr_number) FROM review_comments"),
        10
    );
    // A later full run still gets everything.
    assert_eq!(import_gh(&e, &forge, "t", &[]).2, 0);
    assert_eq!(count(&e, "SELECT COUNT(*) FROM review_comments"), 250);
    let (_, err, code) = import_gh(&e, &forge, "t", &["--since", "last tuesday"]);
    assert_eq!(code, 1);
    assert!(err.contains("--since"), "{err}");
    // Without OWNER/REPO, the checkout's remote decides: here it is on github.com, not the mock.
    let o = e
        .cmd(&["import", "github", "--api-url", &forge.url])
        .current_dir(e.project())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("github.com/acme/shop"));
}

fn gl_mr(iid: i64) -> Value {
    json!({"iid": iid, "title": format!("MR {iid}"), "state": if iid % 2 == 0 { "merged" } else { "opened" },
           "author": {"username": format!("dev{}", iid % 3)}, "web_url": format!("https://gitlab.example.com/g/app/-/merge_requests/{iid}"),
           "merged_at": if iid % 2 == 0 { Value::String(at(iid)) } else { Value::Null }, "created_at": at(iid), "updated_at": at(500 + iid)})
}

fn gl_discussions(iid: i64) -> Value {
    json!([
        {"id": format!("d{iid}a"), "individual_note": false, "notes": [
            {"id": iid * 10, "body": "We don't call db.raw outside migrations.", "author": {"username": "lead"}, "system": false,
             "created_at": at(600 + iid), "updated_at": at(600 + iid), "resolvable": true, "resolved": true,
             "position": {"new_path": format!("src/db{}.rs", iid % 4), "old_path": "x", "new_line": iid, "old_line": null}},
            {"id": iid * 10 + 1, "body": "Fixed.", "author": {"username": format!("dev{}", iid % 3)}, "system": false,
             "created_at": at(601 + iid), "updated_at": at(601 + iid), "resolvable": true, "resolved": true, "position": null}
        ]},
        {"id": format!("d{iid}b"), "individual_note": true, "notes": [
            {"id": iid * 10 + 2, "body": "added 1 commit", "author": {"username": "dev1"}, "system": true, "created_at": at(602), "updated_at": at(602)}
        ]}
    ])
}

fn gitlab(
    total: i64,
    fail_mr: Arc<std::sync::atomic::AtomicI64>,
    limited: Arc<AtomicUsize>,
) -> Arc<common::forge::Handler> {
    Arc::new(
        move |path: &str, q: &HashMap<String, String>, h: &HashMap<String, String>| -> Answer {
            if h.get("private-token").map(String::as_str) == Some("bad") {
                return (
                    401,
                    vec![],
                    json!({"message": "401 Unauthorized"}).to_string(),
                );
            }
            let page: i64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            if path == "/api/v4/projects/g%2Fapp/merge_requests" {
                if limited.fetch_add(1, Ordering::SeqCst) == 0 {
                    return (
                        429,
                        vec![
                            ("RateLimit-Remaining".into(), "0".into()),
                            ("Retry-After".into(), "1".into()),
                        ],
                        "{}".into(),
                    );
                }
                let after = q.get("updated_after").cloned();
                let all: Vec<Value> = (1..=total)
                    .rev()
                    .map(gl_mr)
                    .filter(|m| {
                        after
                            .as_deref()
                            .is_none_or(|a| m["updated_at"].as_str().unwrap() > a)
                    })
                    .collect();
                let chunk: Vec<Value> = all
                    .iter()
                    .skip(((page - 1) * 100) as usize)
                    .take(100)
                    .cloned()
                    .collect();
                let next = if (page * 100) < all.len() as i64 {
                    (page + 1).to_string()
                } else {
                    String::new()
                };
                return (
                    200,
                    vec![("X-Next-Page".into(), next)],
                    Value::Array(chunk).to_string(),
                );
            }
            if let Some(rest) = path.strip_prefix("/api/v4/projects/g%2Fapp/merge_requests/") {
                let iid: i64 = rest.split('/').next().unwrap().parse().unwrap();
                if iid == fail_mr.load(Ordering::SeqCst) {
                    return (503, vec![], "{}".into());
                }
                return ok(gl_discussions(iid).to_string());
            }
            (
                404,
                vec![],
                json!({"message": "404 Project Not Found"}).to_string(),
            )
        },
    )
}

fn import_gl(e: &Env, url: &str, token: &str, extra: &[&str]) -> (String, String, i32) {
    let api = format!("{url}/api/v4");
    let mut args = vec!["import", "gitlab", "g/app", "--api-url", &api];
    args.extend_from_slice(extra);
    let o = e
        .cmd(&args)
        .env("GITLAB_TOKEN", token)
        .env("DIFFLORE_TEST_IMPORT_BACKOFF_MS", "5")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn gitlab_merge_requests_discussions_resume_and_reimport() {
    let fail = Arc::new(std::sync::atomic::AtomicI64::new(60));
    let limited = Arc::new(AtomicUsize::new(0));
    let forge = Forge::start(gitlab(130, fail.clone(), limited.clone()));
    let e = Env::init();
    // MR 60's discussions keep failing: the import stops, keeping what is done.
    let (_, err, code) = import_gl(&e, &forge.url, "tok", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rate limit reached; waiting 1 s"), "{err}");
    assert!(err.contains("kept failing (503)"), "{err}");
    let done = count(
        &e,
        "SELECT COUNT(*) FROM review_prs WHERE comments_synced IS NOT NULL",
    );
    assert_eq!(done, 70, "MRs 130..61 were finished before 60 failed");
    fail.store(0, Ordering::SeqCst);
    forge.clear_log();
    let (out, err, code) = import_gl(&e, &forge.url, "tok", &["--json"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["prs"], 130);
    let discussion_requests = forge
        .requests()
        .iter()
        .filter(|r| r.contains("/discussions"))
        .count();
    assert_eq!(
        discussion_requests, 60,
        "finished MRs are not fetched again"
    );
    assert_eq!(
        count(&e, "SELECT COUNT(*) FROM review_comments"),
        260,
        "two notes per MR, system notes skipped"
    );
    assert_eq!(
        count(
            &e,
            "SELECT COUNT(DISTINCT platform_id) FROM review_comments"
        ),
        260
    );
    let c = db(&e);
    let (path, line, resolved, reply, url): (String, i64, bool, Option<String>, String) = c
        .query_row("SELECT path, line, resolved, in_reply_to, url FROM review_comments WHERE platform_id = '420'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)) })
        .unwrap();
    assert_eq!(
        (path.as_str(), line, resolved, reply),
        ("src/db2.rs", 42, true, None)
    );
    assert!(url.ends_with("/merge_requests/42#note_420"), "{url}");
    assert_eq!(
        count(
            &e,
            "SELECT CAST(in_reply_to AS INTEGER) FROM review_comments WHERE platform_id = '421'"
        ),
        420
    );
    assert_eq!(
        count(
            &e,
            "SELECT author_is_pr_author FROM review_comments WHERE platform_id = '421'"
        ),
        1
    );
    assert_eq!(
        count(
            &e,
            "SELECT COUNT(*) FROM review_prs WHERE repo = '127.0.0.1/g/app' AND state = 'merged'"
        ),
        65
    );
    // Re-import: nothing new, no discussions fetched.
    forge.clear_log();
    let (out, _, _) = import_gl(&e, &forge.url, "tok", &["--json"]);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (s["prs"].as_i64(), s["comments"].as_i64()),
        (Some(0), Some(0)),
        "{s}"
    );
    assert!(forge.requests().iter().all(|r| !r.contains("/discussions")));
    let (_, err, code) = import_gl(&e, &forge.url, "bad", &[]);
    assert_eq!(code, 1);
    assert!(err.contains("GitLab rejected the token (401)"), "{err}");
}

#[test]
fn offline_file_imports_and_names_bad_records() {
    let e = Env::init();
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/import-example.json");
    let (out, err, code) = e.run(&["import", "file", example.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["source"], "file");
    assert!(s["comments"].as_i64().unwrap() >= 3, "{s}");
    // Idempotent.
    let (out, _, _) = e.run(&["import", "file", example.to_str().unwrap(), "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["comments"], 0);
    let bad_cases: Vec<(Value, &str)> = vec![
        (
            json!({"version": 1, "repo": "git.example.com/t/app", "pull_requests": [{"number": 1, "comments": [{"id": "a", "body": ""}]}]}),
            "pull_requests[0].comments[0].body: is empty",
        ),
        (
            json!({"version": 1, "repo": "git.example.com/t/app", "pull_requests": [{"number": 1}, {"title": "x"}]}),
            "pull_requests[1].number: missing",
        ),
        (
            json!({"version": 1, "repo": "git.example.com/t/app", "pull_requests": [{"number": 1, "comments": [{"id": "a", "body": "b", "path": "/etc/passwd"}]}]}),
            "pull_requests[0].comments[0].path",
        ),
        (
            json!({"version": 1, "repo": "git.example.com/t/app", "pull_requests": [{"number": 1, "merged_at": "yesterday"}]}),
            "pull_requests[0].merged_at",
        ),
        (
            json!({"version": 2, "repo": "x", "pull_requests": []}),
            "version",
        ),
        (json!({"version": 1, "pull_requests": []}), "repo: missing"),
    ];
    let before = count(&e, "SELECT COUNT(*) FROM review_comments");
    for (doc, needle) in bad_cases {
        let p = e.dir.path().join("bad.json");
        std::fs::write(&p, doc.to_string()).unwrap();
        let (_, err, code) = e.run(&["import", "file", p.to_str().unwrap()]);
        assert_eq!(code, 1, "{doc}");
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let p = e.dir.path().join("broken.json");
    std::fs::write(&p, "{\"version\": 1, \"pull_requests\": [").unwrap();
    let (_, err, code) = e.run(&["import", "file", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not valid JSON"), "{err}");
    assert_eq!(
        count(&e, "SELECT COUNT(*) FROM review_comments"),
        before,
        "nothing stored from bad files"
    );
}
