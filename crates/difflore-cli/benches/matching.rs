//! Matching-engine figures with 10 000 active rules: one match warm (connection open, statements
//! cached) and fresh (open the database as the hook does, then match), for a read (path only)
//! and an edit (path + changed text); `difflore recall --file` and `recall --diff` over a 50-file
//! diff as whole processes; the hook (`difflore-hook`) serving context and denying an edit.
//!
//! Run: `cargo bench -p difflore-cli --bench matching` (`BENCH_RUNS` sets the sample size).

mod support;

use difflore_core::home::Home;
use difflore_core::store;
use difflore_rules::matching::{Query, match_rules};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

fn report(label: &str, v: &mut [Duration]) {
    let p50 = pct(v, 0.5);
    let p99 = pct(v, 0.99);
    println!(
        "{label:<46} p50 {p50:>7.3} ms   p99 {p99:>7.3} ms   (n={})",
        v.len()
    );
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.email=b@example.com", "-c", "user.name=b"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "git {args:?}");
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let tmp = tempfile::tempdir().unwrap();
    let home = Home::at(tmp.path().join("home"));
    let conn = store::open_for_write(&home).unwrap();
    let t = Instant::now();
    support::seed(&conn, 10_000);
    println!(
        "seeded 10 000 active rules in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    if let Ok(out) = std::env::var("BENCH_DB_OUT") {
        conn.execute("VACUUM INTO ?1", [out]).unwrap();
    }

    let path_of = |i: usize| format!("{}/file{}.rs", support::dir(i * 7), i % 13);
    let texts: Vec<String> = (0..64).map(support::edit_text).collect();
    let mut hits = 0usize;
    for (label, with_text) in [
        ("read (path only)", false),
        ("edit (path + changed text)", true),
    ] {
        let mut warm = Vec::with_capacity(runs);
        for i in 0..runs {
            let p = path_of(i);
            let mut q = Query::new(Some(support::REPO)).path(&p);
            if with_text {
                q = q.text(&texts[i % texts.len()]);
            }
            let t = Instant::now();
            let m = match_rules(&conn, &q).unwrap();
            warm.push(t.elapsed());
            hits += m.len();
        }
        report(&format!("warm match, {label}"), &mut warm);
        let mut fresh = Vec::with_capacity(runs / 4);
        for i in 0..runs / 4 {
            let p = path_of(i);
            let t = Instant::now();
            let c = store::open_for_hook(&home).unwrap();
            let mut q = Query::new(Some(support::REPO)).path(&p);
            if with_text {
                q = q.text(&texts[i % texts.len()]);
            }
            let m = match_rules(&c, &q).unwrap();
            drop(c);
            fresh.push(t.elapsed());
            hits += m.len();
        }
        report(&format!("fresh open + match, {label}"), &mut fresh);
    }
    assert!(hits > 0, "the benchmark queries must match rules");

    // Whole processes: a checkout of the repo with a 50-file change.
    let shop = tmp.path().join("shop");
    std::fs::create_dir_all(&shop).unwrap();
    git(&shop, &["init", "-q"]);
    git(
        &shop,
        &[
            "remote",
            "add",
            "origin",
            "https://github.com/acme/shop.git",
        ],
    );
    for i in 0..50 {
        let p = shop.join(path_of(i));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "fn old() {}\n").unwrap();
    }
    git(&shop, &["add", "."]);
    git(&shop, &["commit", "-qm", "base"]);
    for i in 0..50 {
        std::fs::write(shop.join(path_of(i)), support::edit_text(i)).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_difflore");
    let run = |args: &[&str]| {
        let t = Instant::now();
        let o = Command::new(bin)
            .args(args)
            .env("DIFFLORE_HOME", home.root())
            .current_dir(&shop)
            .output()
            .unwrap();
        let d = t.elapsed();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (d, o.stdout)
    };
    let (_, out) = run(&["recall", "--diff", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 50);
    let governed = files
        .iter()
        .filter(|f| !f["rules"].as_array().unwrap().is_empty())
        .count();
    let n = (runs / 40).max(20);
    let mut proc_file: Vec<Duration> = (0..n)
        .map(|i| run(&["recall", "--file", &path_of(i)]).0)
        .collect();
    report("process: difflore recall --file", &mut proc_file);
    let mut proc_diff: Vec<Duration> = (0..n).map(|_| run(&["recall", "--diff"]).0).collect();
    report(
        &format!("process: recall --diff, 50 files ({governed} governed)"),
        &mut proc_diff,
    );

    // The hook serving rules: Claude Code fixtures on a governed file, a new session per run so
    // every run really matches, renders and records (context on the Read; the gate on the Edit).
    // Through `difflore-hook`, the small static binary `agents install` wires into the agents
    // (`difflore hook` runs the same code from the full command-line binary, ~2 ms more to start).
    let hook_bin = env!("CARGO_BIN_EXE_difflore-hook");
    let target = format!("{}/{}", shop.display(), path_of(3));
    let fixture = |name: &str, n: usize| -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/hooks/claude-code")
            .join(name);
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        v["session_id"] = format!("bench-{n}").into();
        v["cwd"] = shop.display().to_string().into();
        v["tool_input"]["file_path"] = target.clone().into();
        serde_json::to_vec(&v).unwrap()
    };
    let hook_runs = (runs / 2).max(100);
    for (label, name, gate) in [
        (
            "hook: PostToolUse Read, context served",
            "PostToolUse-Read.json",
            false,
        ),
        (
            "hook: PreToolUse Edit, gate denies",
            "PreToolUse-Edit.json",
            true,
        ),
    ] {
        let cfg = if gate {
            "[serving]\nmode = \"gate\"\n"
        } else {
            ""
        };
        std::fs::write(home.config_path(), cfg).unwrap();
        let mut times = Vec::with_capacity(hook_runs);
        for i in 0..hook_runs {
            let input = fixture(name, i + if gate { 1_000_000 } else { 0 });
            let t = Instant::now();
            let mut child = Command::new(hook_bin)
                .args(["--agent", "claude-code"])
                .env("DIFFLORE_HOME", home.root())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            {
                use std::io::Write;
                let mut sin = child.stdin.take().unwrap();
                sin.write_all(&input).unwrap();
            }
            let out = child.wait_with_output().unwrap();
            times.push(t.elapsed());
            let text = String::from_utf8_lossy(&out.stdout);
            let want = if gate {
                "permissionDecision"
            } else {
                "additionalContext"
            };
            assert!(text.contains(want), "run {i}: {text}");
        }
        report(label, &mut times);
    }

    // The MCP server: process start → answer to `initialize`, then search_rules round trips.
    std::fs::write(home.config_path(), "").unwrap();
    let mut starts = Vec::new();
    let mut calls = Vec::new();
    for round in 0..10 {
        use std::io::{BufRead, BufReader, Write};
        let t = Instant::now();
        let mut child = Command::new(bin)
            .arg("mcp")
            .env("DIFFLORE_HOME", home.root())
            .current_dir(&shop)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut sin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        writeln!(sin, r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"bench","version":"1"}}}}}}"#).unwrap();
        out.read_line(&mut line).unwrap();
        starts.push(t.elapsed());
        assert!(line.contains("\"id\":0"), "{line}");
        writeln!(
            sin,
            r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
        )
        .unwrap();
        for i in 0..100 {
            let id = i + 1;
            let args = serde_json::json!({"path": path_of(round * 100 + i), "query": "round the amounts with Money"});
            let msg = serde_json::json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"search_rules","arguments":args}});
            let t = Instant::now();
            writeln!(sin, "{msg}").unwrap();
            line.clear();
            out.read_line(&mut line).unwrap();
            calls.push(t.elapsed());
            assert!(line.contains("structuredContent"), "{line}");
        }
        drop(sin);
        let _ = child.wait();
    }
    report("mcp: start → first answer (initialize)", &mut starts);
    report("mcp: search_rules round trip (path + query)", &mut calls);
}
