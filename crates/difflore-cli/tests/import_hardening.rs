//! Regression tests for the importer's defects found from outside: the token never follows a
//! pagination link to another origin, query values are encoded, a forge's error is shown whole,
//! skipped records say why, a dry run lists what it would import, a failed `--json` run prints
//! a JSON error, the comments cursor is the newest time seen, and a refused connection on the
//! first request fails at once.

mod common;
use common::Env;
use common::forge::{Answer, Forge, at};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pr(n: i64) -> Value {
    json!({"number": n, "title": format!("PR {n}"), "state": "closed",
           "html_url": format!("https://github.com/acme/shop/pull/{n}"),
           "user": {"login": "author", "type": "User"}, "merged_at": null,
           "created_at": at(n), "updated_at": at(100 + n)})
}

fn comment(id: i64, pr: Option<i64>, updated: i64) -> Value {
    let mut c = json!({"id": id,
        "html_url": format!("https://github.com/acme/shop/pull/1#discussion_r{id}"),
        "user": {"login": "rev", "type": "User"}, "path": "src/a.rs", "line": 3,
        "body": "We always use Money for amounts.", "in_reply_to_id": null,
        "created_at": at(updated), "updated_at": at(updated)});
    if let Some(p) = pr {
        c["pull_request_url"] = format!("https://api.github.com/repos/acme/shop/pulls/{p}").into();
    }
    c
}

fn import(e: &Env, url: &str, extra: &[&str]) -> (String, String, i32, Duration) {
    let mut args = vec![
        "import",
        "github",
        "acme/shop",
        "--api-url",
        url,
        "--no-extract",
    ];
    args.extend_from_slice(extra);
    let t = Instant::now();
    let o = e
        .cmd(&args)
        .env("GITHUB_TOKEN", "secret-token")
        .env("DIFFLORE_TEST_IMPORT_BACKOFF_MS", "10")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
        t.elapsed(),
    )
}

/// Two PRs; comments in one page, out of time order, one not tied to any PR.
fn plain_forge() -> Forge {
    Forge::start(Arc::new(
        |path: &str, _q: &HashMap<String, String>, _h: &HashMap<String, String>| -> Answer {
            match path {
                "/repos/acme/shop/pulls" => (200, vec![], json!([pr(2), pr(1)]).to_string()),
                "/repos/acme/shop/pulls/comments" => (
                    200,
                    vec![],
                    json!([
                        comment(11, Some(1), 500),
                        comment(12, Some(2), 900),
                        comment(13, Some(1), 700),
                        comment(14, None, 600)
                    ])
                    .to_string(),
                ),
                _ => (404, vec![], json!({"message": "Not Found"}).to_string()),
            }
        },
    ))
}

#[test]
fn a_pagination_link_to_another_origin_is_refused_and_gets_no_token() {
    let other = Forge::start(Arc::new(
        |_: &str, _: &HashMap<String, String>, _: &HashMap<String, String>| -> Answer {
            (200, vec![], "[]".into())
        },
    ));
    let link = format!("<{}/repos/acme/shop/pulls?page=2>; rel=\"next\"", other.url);
    let forge = Forge::start(Arc::new(
        move |path: &str, _q: &HashMap<String, String>, _h: &HashMap<String, String>| -> Answer {
            match path {
                "/repos/acme/shop/pulls" => (
                    200,
                    vec![("Link".to_string(), link.clone())],
                    json!([pr(1)]).to_string(),
                ),
                _ => (200, vec![], "[]".into()),
            }
        },
    ));
    let e = Env::init();
    let (_, err, code, _) = import(&e, &forge.url, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&other.url) && err.contains("not on the API's own origin"),
        "{err}"
    );
    assert!(other.requests().is_empty(), "the other host got a request");
}

#[test]
fn query_values_are_encoded_and_errors_shown_whole() {
    let long = format!(
        "Validation failed: {} end of message",
        "the since value is odd; ".repeat(20)
    );
    let msg = long.clone();
    let forge = Forge::start(Arc::new(
        move |path: &str, _q: &HashMap<String, String>, _h: &HashMap<String, String>| -> Answer {
            match path {
                "/repos/acme/shop/pulls" => (200, vec![], json!([pr(1)]).to_string()),
                _ => (422, vec![], json!({"message": msg}).to_string()),
            }
        },
    ));
    let e = Env::init();
    let (_, err, code, _) = import(&e, &forge.url, &["--since", "2020-01-01T00:00:00+01:00"]);
    assert_eq!(code, 1);
    assert!(err.contains(&long), "the whole message: {err}");
    let asked = forge.requests();
    assert!(
        asked
            .iter()
            .any(|r| r.contains("since=2020-01-01T00%3A00%3A00%2B01%3A00")),
        "{asked:?}"
    );
}

#[test]
fn skips_say_why_dry_run_lists_and_the_cursor_is_the_newest_time() {
    let forge = plain_forge();
    let e = Env::init();
    let (out, err, code, _) = import(&e, &forge.url, &["--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("would import 2 pull requests and 3 review comments"),
        "{out}"
    );
    assert!(out.contains("#2") && out.contains("PR 2"), "{out}");
    let (out, err, code, _) = import(&e, &forge.url, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["comments"], 3);
    assert_eq!(v["skipped"], 1);
    assert_eq!(v["skipped_reasons"][0]["count"], 1);
    assert_eq!(v["skipped_reasons"][0]["example"], "14");
    assert!(
        v["skipped_reasons"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("pull_request_url")
    );
    let c = rusqlite::Connection::open(e.db()).unwrap();
    let cursor: String = c
        .query_row(
            "SELECT value FROM import_cursors WHERE name = 'comments_updated'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cursor, at(900), "the newest time seen, not the last item's");
}

#[test]
fn a_failed_json_run_prints_a_json_error() {
    let forge = plain_forge();
    let e = Env::init();
    let (out, _, code, _) = e
        .cmd(&[
            "import",
            "github",
            "acme/nope",
            "--api-url",
            &forge.url,
            "--json",
        ])
        .env("GITHUB_TOKEN", "t")
        .output()
        .map(|o| {
            (
                String::from_utf8_lossy(&o.stdout).into_owned(),
                (),
                o.status.code().unwrap_or(-1),
                (),
            )
        })
        .unwrap();
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["error"]["kind"], "not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("404"));
}

#[test]
fn a_refused_first_connection_fails_at_once() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = Env::init();
    let o = e
        .cmd(&[
            "import",
            "github",
            "acme/shop",
            "--api-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("cannot reach"), "{err}");
    assert!(
        !err.contains("retrying"),
        "no retries before anything answered: {err}"
    );
}
