//! Daemon lifecycle and fault handling with real processes and signals: double start, stop,
//! stale locks, SIGTERM mid-drain, version-mismatch restart, a poison event behind a
//! fault-injecting proxy, login errors, `sync now`, the systemd unit. Serial nextest group.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A tiny HTTP proxy in front of the real server that answers 500 to any request whose body
/// contains `POISON`, and forwards everything else.
fn poison_proxy(upstream: String) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let up = upstream.clone();
            std::thread::spawn(move || {
                let _ = serve_one(s, &up);
            });
        }
    });
    url
}

fn serve_one(s: TcpStream, upstream: &str) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let (mut len, mut auth) = (0usize, String::new());
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            if h.trim().is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or(("", ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "authorization" => auth = v.trim().to_string(),
                _ => {}
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        let (status, text) = if String::from_utf8_lossy(&body).contains("POISON") {
            (500, r#"{"error":"injected fault"}"#.to_string())
        } else {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = if method == "POST" {
                agent
                    .post(format!("{upstream}{path}"))
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(&body[..])
            } else {
                agent
                    .get(format!("{upstream}{path}"))
                    .header("Authorization", &auth)
                    .call()
            }
            .map_err(std::io::Error::other)?;
            (
                resp.status().as_u16(),
                resp.body_mut().read_to_string().unwrap_or_default(),
            )
        };
        write!(
            w,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        )?;
        w.flush()?;
    }
}

#[test]
fn a_poison_event_alone_ends_dead() {
    let server = TestServer::start(&Backend::Sqlite);
    let proxy = poison_proxy(server.url.clone());
    let e = Env::init();
    let tf = e.dir.path().join("t");
    std::fs::write(&tf, server.token("dev", "ingest")).unwrap();
    let (_, err, code) = e.run(&[
        "sync",
        "login",
        "--server",
        &proxy,
        "--token-file",
        tf.to_str().unwrap(),
        "--no-daemon",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut good = e.enqueue_direct(120);
    {
        let conn =
            difflore_core::store::open_for_write(&difflore_core::home::Home::at(e.home())).unwrap();
        let env = difflore_proto::EventEnvelope {
            id: uuid::Uuid::now_v7().to_string(),
            kind: "hook.event".into(),
            occurred_at: "2026-11-25T17:00:00Z".into(),
            payload: serde_json::json!({"marker": "POISON"}),
        };
        difflore_core::outbox::Outbox::new(&conn)
            .enqueue(
                &env,
                difflore_core::outbox::EnqueuePolicy {
                    cap: 1_000_000,
                    logged_in: true,
                },
                difflore_core::clock::now_ms(),
            )
            .unwrap();
    }
    good.extend(e.enqueue_direct(80));
    let mut d = e
        .cmd(&["daemon", "run", "--batch-size", "50", "--poll-ms", "20"])
        .env("DIFFLORE_TEST_BACKOFF_BASE_MS", "1")
        .env("DIFFLORE_TEST_BACKOFF_CAP_MS", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Reaped)
        .unwrap();
    let read = server.token("reader", "read");
    wait_for(60, "the poison event to die", || e.counts()["dead"] == 1);
    wait_for(30, "everything else delivered", || {
        server.ids(&read).len() == 200
    });
    let c = e.counts();
    assert_eq!(
        (c["pending"].as_i64(), c["dead"].as_i64()),
        (Some(0), Some(1)),
        "{c}"
    );
    let (out, _, _) = e.run(&["outbox", "list", "--state", "dead", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let why = v["events"][0]["last_error"].as_str().unwrap();
    assert!(
        why.contains("20 answered attempts") && why.contains("500"),
        "{why}"
    );
    let got: std::collections::HashSet<String> = server.ids(&read).into_iter().collect();
    assert_eq!(got, good.into_iter().collect());
    let _ = Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status();
    d.wait().unwrap();
}

#[test]
fn lifecycle_start_stop_stale_and_double_start() {
    let e = Env::init();
    // Without credentials the daemon idles, waiting for login.
    let (out, err, code) = e.run(&["daemon", "start"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("daemon started"), "{out}");
    wait_for(10, "waiting for login", || {
        e.daemon_status()["activity"] == "waiting for login"
    });
    let st = e.daemon_status();
    assert_eq!(st["state"], "running");
    let pid = st["pid"].as_u64().unwrap();
    // Double start: says so, exit 0. A second `run` refuses, naming the holder.
    let (out, _, code) = e.run(&["daemon", "start"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("already running") && out.contains(&pid.to_string()),
        "{out}"
    );
    let (_, err, code) = e.run(&["daemon", "run"]);
    assert_ne!(code, 0);
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    // stop; start in a row.
    let (out, _, code) = e.run(&["daemon", "stop"]);
    assert_eq!(code, 0);
    assert!(out.contains("terminated"), "{out}");
    assert_eq!(e.daemon_status()["state"], "not_running");
    let (out, _, _) = e.run(&["daemon", "start"]);
    assert!(out.contains("started"), "{out}");
    let pid = e.daemon_status()["pid"].as_u64().unwrap();
    // kill -9 leaves a stale lock file; status says so without touching it; stop cleans it.
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    wait_for(10, "stale state", || e.daemon_status()["state"] == "stale");
    assert_eq!(e.daemon_status()["state"], "stale", "status is read-only");
    let (out, _, code) = e.run(&["daemon", "stop"]);
    assert_eq!(code, 0);
    assert!(out.contains("cleaned"), "{out}");
    let (out, _, code) = e.run(&["daemon", "stop"]);
    assert_eq!((out.trim(), code), ("daemon not running", 0));
    // A different version running is replaced by `start`.
    let mut old = e
        .cmd(&["daemon", "run"])
        .env("DIFFLORE_TEST_DAEMON_VERSION", "0.0.1-old")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Reaped)
        .unwrap();
    wait_for(10, "the old daemon", || {
        e.daemon_status()["state"] == "running"
    });
    assert_eq!(e.daemon_status()["version_mismatch"], true);
    let (out, err, code) = e.run(&["daemon", "start"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("restarted") && out.contains("0.0.1-old"),
        "{out}"
    );
    assert_eq!(
        old.wait().unwrap().code(),
        Some(0),
        "the old daemon exited cleanly"
    );
    assert_eq!(e.daemon_status()["version"], env!("CARGO_PKG_VERSION"));
    e.run(&["daemon", "stop"]);
}

#[test]
fn sigterm_mid_drain_leaves_no_dangling_lease() {
    let server = TestServer::start(&Backend::Sqlite);
    let e = Env::init();
    e.login(&server, &server.token("dev", "ingest"), false);
    e.enqueue_direct(30_000);
    let mut d = e
        .cmd(&["daemon", "run", "--batch-size", "50", "--poll-ms", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Reaped)
        .unwrap();
    let read = server.token("reader", "read");
    wait_for(30, "the drain to start", || !server.ids(&read).is_empty());
    Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status()
        .unwrap();
    let start = std::time::Instant::now();
    assert_eq!(d.wait().unwrap().code(), Some(0));
    // The daemon waits ≤ 3 s for the request in flight; the rest is slack for a busy machine.
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "bounded shutdown"
    );
    let c = e.counts();
    assert_eq!(c["leased"], 0, "no dangling lease: {c}");
    assert!(c["pending"].as_i64().unwrap() > 0, "stopped mid-drain: {c}");
    assert!(e.run(&["daemon", "logs"]).0.contains("daemon stopping"));
}

#[test]
fn login_errors_are_clear_and_change_nothing() {
    let server = TestServer::start(&Backend::Sqlite);
    let e = Env::init();
    let tf = e.dir.path().join("t");
    std::fs::write(
        &tf,
        "dfl_000000000000_000000000000000000000000000000000000000000000000",
    )
    .unwrap();
    let t = tf.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "sync",
                "login",
                "--server",
                &server.url,
                "--token-file",
                t,
                "--no-daemon",
            ],
            "refused the token",
        ),
        (
            vec![
                "sync",
                "login",
                "--server",
                "http://sync.example.com",
                "--token-file",
                t,
            ],
            "--insecure",
        ),
        (
            vec!["sync", "login", "--server", "not a url", "--token-file", t],
            "not a URL",
        ),
        (
            vec![
                "sync",
                "login",
                "--server",
                "http://127.0.0.1:1",
                "--token-file",
                t,
            ],
            "cannot reach",
        ),
        (
            vec![
                "sync",
                "login",
                "--server",
                &server.url,
                "--token-file",
                "/nonexistent",
            ],
            "cannot read",
        ),
    ];
    for (args, needle) in cases {
        let (_, err, code) = e.run(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!e.home().join("token").exists(), "nothing stored");
    // Empty stdin is a clear error too.
    let mut c = e.cmd(&["sync", "login", "--server", &server.url]);
    let (out, _) = run_with_stdin(&mut c, b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no token"));
    // Backlog: non-interactive login with captured events needs a decision.
    e.hook(
        &["--agent", "claude-code"],
        &e.fixture("claude-code", "SessionStart.json"),
    );
    std::fs::write(&tf, server.token("dev", "ingest")).unwrap();
    let (_, err, code) = e.run(&[
        "sync",
        "login",
        "--server",
        &server.url,
        "--token-file",
        t,
        "--no-daemon",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--upload-backlog") && err.contains("--discard-backlog"),
        "{err}"
    );
    let (out, err, code) = e.run(&[
        "sync",
        "login",
        "--server",
        &server.url,
        "--token-file",
        t,
        "--no-daemon",
        "--discard-backlog",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("discarded 1") && out.contains("team"), "{out}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(e.home().join("token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // status warns: logged in, no daemon.
    let (out, _, _) = e.run(&["status"]);
    assert!(
        out.contains("WARNING") && out.contains("no daemon"),
        "{out}"
    );
    let (out, _, _) = e.run(&["sync", "status"]);
    assert!(
        out.contains("hook.event") && out.contains("repo-relative"),
        "{out}"
    );
    // logout keeps the queue.
    e.hook(
        &["--agent", "claude-code"],
        &e.fixture("claude-code", "SessionEnd.json"),
    );
    let (out, _, _) = e.run(&["sync", "logout"]);
    assert!(out.contains("queue is kept"), "{out}");
    assert_eq!(e.counts()["pending"], 1);
}

#[test]
fn sync_now_drains_in_the_foreground_or_through_the_daemon() {
    let server = TestServer::start(&Backend::Sqlite);
    let e = Env::init();
    e.login(&server, &server.token("dev", "ingest"), false);
    e.enqueue_direct(1_200);
    let (out, err, code) = e.run(&["sync", "now", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            v["by"].as_str(),
            v["delivered"].as_i64(),
            v["remaining"].as_i64()
        ),
        (Some("foreground"), Some(1200), Some(0)),
        "{v}"
    );
    // With a daemon running, `sync now` asks it instead of draining beside it.
    let (_, err, code) = e.run(&["daemon", "start", "--poll-ms", "5000"]);
    assert_eq!(code, 0, "{err}");
    e.enqueue_direct(300);
    let (out, err, code) = e.run(&["sync", "now"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("the daemon delivered"), "{out}");
    assert_eq!(e.counts()["pending"], 0);
    let read = server.token("reader", "read");
    assert_eq!(server.ids(&read).len(), 1_500);
    e.run(&["daemon", "stop"]);
    // Not logged in: a clear error.
    e.run(&["sync", "logout"]);
    let (_, err, code) = e.run(&["sync", "now"]);
    assert_eq!(code, 1);
    assert!(err.contains("not logged in"), "{err}");
}

#[test]
fn install_writes_a_unit_that_systemd_accepts() {
    let e = Env::init();
    let fake_home = e.dir.path().join("userhome");
    std::fs::create_dir_all(&fake_home).unwrap();
    let (out, err, code) = {
        let o = e
            .cmd(&["daemon", "install"])
            .env("HOME", &fake_home)
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.status.code(),
        )
    };
    assert_eq!(code, Some(0), "{out}{err}");
    let unit = fake_home.join(".config/systemd/user/difflore-daemon.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains(&format!("ExecStart={} daemon run", common::bin())),
        "{text}"
    );
    assert!(text.contains(&format!("DIFFLORE_HOME={}", e.home().display())));
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        assert!(out.contains("verify: ok"), "{out}");
    }
    let o = e
        .cmd(&["daemon", "uninstall"])
        .env("HOME", &fake_home)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(!unit.exists());
}

#[test]
fn the_daemon_exits_when_the_schema_changes_under_it() {
    let e = Env::init();
    let mut d = e
        .cmd(&["daemon", "run", "--poll-ms", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Reaped)
        .unwrap();
    wait_for(10, "the drain loop", || {
        e.daemon_status()["activity"] == "waiting for login"
    });
    // A newer difflore migrated the database.
    let c = rusqlite::Connection::open(e.db()).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    c.pragma_update(None, "user_version", v + 1).unwrap();
    drop(c);
    let start = std::time::Instant::now();
    loop {
        if let Some(st) = d.try_wait().unwrap() {
            assert_eq!(st.code(), Some(0));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the daemon kept running on a changed schema"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(e.run(&["daemon", "logs"]).0.contains("schema changed"));
    assert_eq!(e.daemon_status()["state"], "not_running");
}
