//! `difflore import github` against a mock generated from GitHub's own REST description: Prism
//! (`@stoplight/prism-cli`) serving `@octokit/openapi`'s `api.github.com.json`, both pinned and
//! installed by `./scripts/test` into `.ci/node`. Static examples must import; randomised
//! answers (a fixed seed, `Prefer: dynamic=true`) must never crash or hang the importer: each
//! run ends with exit 0 and a summary, or exit 1 and a clear error — JSON on stdout either way
//! with `--json`.
//!
//! A small proxy stands between the importer and Prism only to rewrite Prism's example `Link`
//! header (which names `https://api.github.com/resource`) into a link on the proxy itself, so
//! pagination is exercised; it ends the pages after the third.

mod common;
use common::{Env, Reaped};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn prism_dir() -> Option<std::path::PathBuf> {
    match std::env::var("DIFFLORE_PRISM") {
        Ok(d) if !d.is_empty() => Some(d.into()),
        _ => {
            if std::env::var("DIFFLORE_REQUIRE_PRISM").is_ok_and(|v| v == "1") {
                panic!("DIFFLORE_REQUIRE_PRISM=1 but DIFFLORE_PRISM is not set");
            }
            eprintln!(
                "SKIPPED: set DIFFLORE_PRISM to a node prefix with Prism and @octokit/openapi (./scripts/test does)"
            );
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Forwards GETs to Prism; `dynamic` asks for randomised answers; rewrites `Link`.
fn proxy(prism: String, dynamic: bool) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let me = format!("http://{}", l.local_addr().unwrap());
    let base = me.clone();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        for s in l.incoming().flatten() {
            let (agent, prism, base) = (agent.clone(), prism.clone(), base.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut w = s;
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
                    let mut req = agent
                        .get(format!("{prism}{target}"))
                        .header("Accept", "application/json");
                    if dynamic {
                        req = req.header("Prefer", "dynamic=true");
                    }
                    let (status, link, body) = match req.call() {
                        Ok(mut resp) => {
                            let link = resp
                                .headers()
                                .get("link")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            let body = resp.body_mut().read_to_string().unwrap_or_default();
                            (resp.status().as_u16(), link, body)
                        }
                        Err(e) => (502, None, format!("{{\"message\":\"proxy: {e}\"}}")),
                    };
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let page: u32 = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("page="))
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(1);
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                        body.len()
                    );
                    if link.is_some() && page < 3 {
                        let rest: Vec<&str> = query
                            .split('&')
                            .filter(|kv| !kv.starts_with("page=") && !kv.is_empty())
                            .collect();
                        head.push_str(&format!(
                            "Link: <{base}{path}?{}&page={}>; rel=\"next\"\r\n",
                            rest.join("&"),
                            page + 1
                        ));
                    }
                    head.push_str("\r\n");
                    if w.write_all(head.as_bytes()).is_err()
                        || w.write_all(body.as_bytes()).is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    me
}

fn start_prism(dir: &std::path::Path) -> (Reaped, String) {
    let port = free_port();
    let spec = dir.join("node_modules/@octokit/openapi/generated/api.github.com.json");
    assert!(spec.exists(), "{} is missing", spec.display());
    let child = Command::new(dir.join("node_modules/.bin/prism"))
        .args([
            "mock",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--seed",
            "20261129",
        ])
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Reaped)
        .expect("start prism");
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    // Prism reads the 13 MB description first: wait for it to answer.
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let _ = s.write_all(b"GET /zen HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
            let mut b = String::new();
            let _ = s.read_to_string(&mut b);
            if b.starts_with("HTTP/1.1") {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "Prism did not start"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    (child, url)
}

fn import(e: &Env, api: &str) -> (String, String, Option<i32>) {
    let o = e
        .cmd(&[
            "import",
            "github",
            "acme/shop",
            "--api-url",
            api,
            "--json",
            "--no-extract",
        ])
        .env("GITHUB_TOKEN", "prism-token")
        .env("DIFFLORE_TEST_IMPORT_BACKOFF_MS", "1")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

#[test]
fn imports_from_a_mock_of_githubs_own_api_description() {
    let Some(dir) = prism_dir() else { return };
    let (_prism, url) = start_prism(&dir);
    // Static examples: a real import.
    let e = Env::init();
    let (out, err, code) = import(&e, &proxy(url.clone(), false));
    assert_eq!(code, Some(0), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["prs"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["comments"].as_u64().unwrap() >= 1, "{v}");
    // Without the proxy, Prism's own Link names api.github.com: refused, no token sent there.
    let e = Env::init();
    let (out, err, code) = import(&e, &url);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("not on the API's own origin"), "{err}");
    // Randomised answers: never a crash, never a hang, always one JSON object.
    let dynamic = proxy(url, true);
    for run in 0..12 {
        let e = Env::init();
        let t = Instant::now();
        let (out, err, code) = import(&e, &dynamic);
        assert!(
            matches!(code, Some(0) | Some(1)),
            "run {run}: {code:?}\n{err}"
        );
        assert!(!err.contains("panicked"), "run {run}: {err}");
        assert!(t.elapsed() < Duration::from_secs(120), "run {run} hung");
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|_| panic!("run {run}: stdout is not JSON: {out}\n{err}"));
        assert_eq!(v["schema_version"], 1, "run {run}: {v}");
        if code == Some(1) {
            assert!(v["error"]["message"].is_string(), "{v}");
            assert!(err.starts_with("error:"), "{err}");
        }
    }
}
