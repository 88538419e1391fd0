//! Import throughput: `difflore import github` (release build) against the shared fake forge
//! (`difflore-test-support`) replaying GitHub REST pages (100 PRs, 10 000 review comments in pages of 100, `Link`
//! pagination). Reports review comments stored per second, end to end (process start to exit).
//!
//! Run: `cargo bench -p difflore-cli --bench import`.

use difflore_test_support::forge::{Forge, ok};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

const COMMENT_PAGES: usize = 100;

fn at(m: usize) -> String {
    difflore_test_support::forge::at(m as i64)
}

fn pages(base: &str) -> (String, Vec<String>) {
    let prs: Vec<serde_json::Value> = (1..=100)
        .rev()
        .map(|n| serde_json::json!({"number": n, "title": format!("PR {n}"), "state": "closed", "user": {"login": format!("a{}", n % 7)},
            "html_url": format!("https://github.com/acme/shop/pull/{n}"), "merged_at": at(n), "created_at": at(n), "updated_at": at(n)}))
        .collect();
    let comments = (0..COMMENT_PAGES)
        .map(|p| {
            let items: Vec<serde_json::Value> = (0..100)
                .map(|j| {
                    let i = p * 100 + j;
                    let pr = i % 100 + 1;
                    serde_json::json!({"id": 10_000 + i, "pull_request_url": format!("{base}/repos/acme/shop/pulls/{pr}"),
                        "html_url": format!("https://github.com/acme/shop/pull/{pr}#discussion_r{i}"), "user": {"login": format!("r{}", i % 9), "type": "User"},
                        "path": format!("src/m{}/f{}.rs", i % 13, i % 29), "line": i % 300 + 1, "diff_hunk": "@@ -1,4 +1,4 @@\n-let total: f64 = 0.0;\n+let total = Money::zero();",
                        "body": format!("Please use Money instead of f64 for amounts; see the billing guide ({i})."), "in_reply_to_id": null,
                        "reactions": {"url": "x", "total_count": 1, "+1": 1}, "created_at": at(1000 + i), "updated_at": at(1000 + i)})
                })
                .collect();
            serde_json::Value::Array(items).to_string()
        })
        .collect();
    (serde_json::Value::Array(prs).to_string(), comments)
}

fn main() {
    // The pages need the server's own URL (for `Link` and `pull_request_url`): start it with a
    // placeholder handler, then hand it the real one.
    let forge = Forge::start(Arc::new(|_: &str, _: &_, _: &_| ok(String::new())));
    let base = forge.url.clone();
    let (prs, comments) = pages(&base);
    let link_base = base.clone();
    forge.set(Arc::new(move |path: &str, query: &HashMap<String, String>, _: &_| {
        let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        if path.contains("/pulls/comments") {
            let mut a = ok(comments[page - 1].clone());
            if page < COMMENT_PAGES {
                a.1.push((
                    "Link".into(),
                    format!("<{link_base}/repos/acme/shop/pulls/comments?per_page=100&page={}>; rel=\"next\"", page + 1),
                ));
            }
            a
        } else {
            ok(prs.clone())
        }
    }));
    let mut rates = Vec::new();
    for run in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_difflore"))
            .args([
                "import",
                "github",
                "acme/shop",
                "--api-url",
                &base,
                "--json",
            ])
            .env("DIFFLORE_HOME", dir.path())
            .env("GITHUB_TOKEN", "bench")
            .output()
            .unwrap();
        let el = t.elapsed().as_secs_f64();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let n = s["comments"].as_f64().unwrap();
        assert_eq!(n as usize, COMMENT_PAGES * 100);
        rates.push(n / el);
        println!(
            "run {run}: {n} review comments (+100 PRs, {} requests) stored in {el:.2} s → {:.0} comments/s",
            s["requests"],
            n / el
        );
    }
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("median: {:.0} review comments/s stored", rates[1]);
}
