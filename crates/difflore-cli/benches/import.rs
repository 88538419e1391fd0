//! Import throughput: `difflore import github` (release build) against a local server that
//! replays GitHub REST pages (100 PRs, 10 000 review comments in pages of 100, `Link`
//! pagination). Reports review comments stored per second, end to end (process start to exit).
//!
//! Run: `cargo bench -p difflore-cli --bench import`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

const COMMENT_PAGES: usize = 100;

fn at(m: usize) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(1_760_000_000 + m as i64 * 60).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
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
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let (prs, comments) = pages(&base);
    let data = Arc::new((prs, comments, base.clone()));
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let data = data.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut w = s;
                let _ = w.set_nodelay(true);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                    }
                    let _ = r.by_ref().take(0).read_to_end(&mut Vec::new());
                    let page: usize = target
                        .split(['?', '&'])
                        .find_map(|kv| kv.strip_prefix("page="))
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(1);
                    let (body, link) = if target.contains("/pulls/comments") {
                        let link = (page < COMMENT_PAGES).then(|| format!("<{}/repos/acme/shop/pulls/comments?per_page=100&page={}>; rel=\"next\"", data.2, page + 1));
                        (data.1[page - 1].as_str(), link)
                    } else {
                        (data.0.as_str(), None)
                    };
                    let mut head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                        body.len()
                    );
                    if let Some(l) = link {
                        head.push_str(&format!("Link: {l}\r\n"));
                    }
                    head.push_str("\r\n");
                    if w.write_all(head.as_bytes())
                        .and_then(|_| w.write_all(body.as_bytes()))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
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
