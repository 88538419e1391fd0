//! The `/v1` behaviour suite, run against a real server on each backend (SQLite, and
//! PostgreSQL when `DIFFLORE_TEST_PG_URL` is set — `./scripts/test` always sets it).

#[macro_use]
mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;

on_both_backends!(
    accept_duplicate_and_partial_rejection,
    limits_answer_413_with_the_limits,
    auth_roles_and_revocation,
    teams_are_isolated,
    cursor_pages_without_gaps_or_repeats,
    a_late_commit_is_never_skipped,
    sixteen_clients_replaying_one_batch_store_each_id_once,
    bad_input_gets_4xx_and_the_server_stays_up,
    sigterm_exits_cleanly,
);

fn accept_duplicate_and_partial_rejection(b: &Backend) {
    let s = Server::start(b);
    let team = unique("acme");
    let t = s.token_in(&team, "alice", "read");
    let ids: Vec<String> = (0..3).map(|_| new_id()).collect();
    let mut evs: Vec<Value> = ids.iter().map(|i| event(i, "hook.event")).collect();
    evs.push(json!({"id": "not-a-uuid", "kind": "hook.event", "occurred_at": "2026-11-25T17:00:00Z", "payload": {}}));
    evs.push(event(&new_id(), "Bad-Kind"));
    evs.push(json!({"id": new_id(), "kind": "x", "occurred_at": "yesterday", "payload": {}}));
    evs.push(
        json!({"id": new_id(), "kind": "x", "occurred_at": "2026-11-25T17:00:00Z", "payload": [1]}),
    );
    evs.push(event(&ids[0], "hook.event")); // the same id twice in one request
    evs.push(event(&new_id(), "team.custom_kind.v2")); // no kind allow-list
    let (st, v) = post(&s.url, Some(&t), batch(&evs));
    assert_eq!(st, 200, "{v}");
    let statuses: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "accepted",
            "accepted",
            "rejected",
            "rejected",
            "rejected",
            "rejected",
            "duplicate",
            "accepted"
        ]
    );
    assert_eq!(v["results"][3]["id"], "not-a-uuid");
    assert!(v["results"][3]["reason"].as_str().unwrap().contains("UUID"));
    assert!(v["results"][4]["reason"].as_str().unwrap().contains("kind"));
    assert!(
        v["results"][5]["reason"]
            .as_str()
            .unwrap()
            .contains("occurred_at")
    );
    assert!(
        v["results"][6]["reason"]
            .as_str()
            .unwrap()
            .contains("object")
    );
    // Replay: everything stored is now a duplicate; nothing stored twice.
    let (st, v) = post(&s.url, Some(&t), batch(&evs));
    assert_eq!(st, 200);
    let statuses: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "duplicate").count(), 5);
    assert_eq!(statuses.iter().filter(|s| **s == "accepted").count(), 0);
    assert_eq!(all_ids(&s.url, &t, 100).len(), 4);
    let (_, stats) = get(&s.url, "/v1/stats", Some(&t));
    assert_eq!(stats["events"], 4);
    assert_eq!(stats["by_kind"]["hook.event"], 3);
    assert_eq!(stats["team"], team.as_str());
    // Upper-case UUID text is the same id.
    let (_, v) = post(
        &s.url,
        Some(&t),
        batch(&[event(&ids[1].to_uppercase(), "hook.event")]),
    );
    assert_eq!(v["results"][0]["status"], "duplicate");
}

fn limits_answer_413_with_the_limits(b: &Backend) {
    let s = Server::start(b);
    let t = s.token_in(&unique("acme"), "ci", "read");
    // 500 events is fine, 501 is not.
    let evs: Vec<Value> = (0..500).map(|_| event(&new_id(), "hook.event")).collect();
    let (st, v) = post(&s.url, Some(&t), batch(&evs));
    assert_eq!(st, 200, "{v}");
    let evs: Vec<Value> = (0..501).map(|_| event(&new_id(), "hook.event")).collect();
    let (st, v) = post(&s.url, Some(&t), batch(&evs));
    assert_eq!(st, 413);
    assert_eq!(v["limits"]["max_events"], 500);
    // Over 1 MiB in one request.
    let big: Vec<Value> = (0..20)
        .map(|_| json!({"id": new_id(), "kind": "k", "occurred_at": "2026-11-25T17:00:00Z", "payload": {"s": "x".repeat(60_000)}}))
        .collect();
    let (st, v) = post(&s.url, Some(&t), batch(&big));
    assert_eq!(st, 413, "{v}");
    assert_eq!(v["limits"]["max_request_bytes"], 1_048_576);
    // One payload over 64 KiB: 413 naming it, nothing of the batch stored.
    let fat = new_id();
    let ok = new_id();
    let evs = vec![
        event(&ok, "hook.event"),
        json!({"id": fat, "kind": "k", "occurred_at": "2026-11-25T17:00:00Z", "payload": {"s": "x".repeat(70_000)}}),
    ];
    let (st, v) = post(&s.url, Some(&t), batch(&evs));
    assert_eq!(st, 413);
    assert_eq!(v["too_large_ids"], json!([fat]));
    assert_eq!(v["limits"]["max_payload_bytes"], 65_536);
    assert_eq!(all_ids(&s.url, &t, 1000).len(), 500);
}

fn auth_roles_and_revocation(b: &Backend) {
    let s = Server::start(b);
    let team = unique("acme");
    let ingest = s.token_in(&team, "laptop", "ingest");
    let read = s.token_in(&team, "dash", "read");
    let admin = s.token_in(&team, "ops", "admin");
    let body = batch(&[event(&new_id(), "hook.event")]);
    assert_eq!(post(&s.url, None, body.clone()).0, 401);
    assert_eq!(post(&s.url, Some("garbage"), body.clone()).0, 401);
    // Right format, wrong secret.
    let forged = format!("{}{}", &ingest[..ingest.len() - 4], "0000");
    let (st, v) = post(&s.url, Some(&forged), body.clone());
    assert_eq!(st, 401, "{v}");
    assert!(v["error"].as_str().unwrap().contains("invalid"));
    assert_eq!(post(&s.url, Some(&ingest), body.clone()).0, 200);
    // ingest writes only.
    assert_eq!(get(&s.url, "/v1/events", Some(&ingest)).0, 403);
    assert_eq!(get(&s.url, "/v1/stats", Some(&ingest)).0, 403);
    assert_eq!(get(&s.url, "/v1/events", Some(&read)).0, 200);
    assert_eq!(get(&s.url, "/v1/stats", Some(&admin)).0, 200);
    let (st, w) = get(&s.url, "/v1/whoami", Some(&ingest));
    assert_eq!(st, 200);
    assert_eq!(
        w,
        json!({"team": team, "token_name": "laptop", "roles": ["ingest"]})
    );
    let (_, w) = get(&s.url, "/v1/whoami", Some(&admin));
    assert_eq!(w["roles"], json!(["ingest", "read", "maintainer", "admin"]));
    // A maintainer reads too, and says so.
    let maintainer = s.token_in(&team, "lead", "maintainer");
    let (_, w) = get(&s.url, "/v1/whoami", Some(&maintainer));
    assert_eq!(w["roles"], json!(["ingest", "read", "maintainer"]));
    assert_eq!(get(&s.url, "/v1/events", Some(&maintainer)).0, 200);
    assert_eq!(get(&s.url, "/v1/whoami", None).0, 401);
    // health needs no token
    let (st, h) = get(&s.url, "/v1/health", None);
    assert_eq!(st, 200);
    assert_eq!(h["status"], "ok");
    // Revocation takes effect on the next request.
    let out = s.cli(&["token", "revoke", "laptop", "--team", &team]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(post(&s.url, Some(&ingest), body.clone()).0, 401);
    assert_eq!(get(&s.url, "/v1/whoami", Some(&read)).0, 200);
    // The list shows no secret.
    let out = s.cli(&["token", "list", "--team", &team, "--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 4);
    assert!(list["tokens"][0]["revoked_at"].is_string());
    for tok in [&ingest, &read, &admin, &maintainer] {
        assert!(!text.contains(&tok[17..]), "secret leaked in token list");
    }
}

fn teams_are_isolated(b: &Backend) {
    let s = Server::start(b);
    let (ta, tb) = (unique("a"), unique("b"));
    let a = s.token_in(&ta, "x", "read");
    let bt = s.token_in(&tb, "x", "read");
    let shared = new_id();
    let (_, v) = post(
        &s.url,
        Some(&a),
        batch(&[event(&shared, "hook.event"), event(&new_id(), "hook.event")]),
    );
    assert_eq!(v["results"][0]["status"], "accepted");
    // The same id in another team is that team's own event.
    let (_, v) = post(&s.url, Some(&bt), batch(&[event(&shared, "rules.served")]));
    assert_eq!(v["results"][0]["status"], "accepted");
    assert_eq!(all_ids(&s.url, &a, 10).len(), 2);
    assert_eq!(all_ids(&s.url, &bt, 10), vec![shared.clone()]);
    let (_, sb) = get(&s.url, "/v1/stats", Some(&bt));
    assert_eq!(sb["events"], 1);
    assert_eq!(sb["by_kind"], json!({"rules.served": 1}));
    // A cursor from team A gives team B nothing of A's.
    let (_, pa) = get(&s.url, "/v1/events?limit=1", Some(&a));
    let c = pa["next_cursor"].as_str().unwrap();
    let (_, pb) = get(&s.url, &format!("/v1/events?after={c}"), Some(&bt));
    for e in pb["events"].as_array().unwrap() {
        assert_eq!(e["kind"], "rules.served");
    }
}

fn cursor_pages_without_gaps_or_repeats(b: &Backend) {
    let s = Server::start(b);
    let t = s.token_in(&unique("acme"), "r", "read");
    let mut want = Vec::new();
    for _ in 0..5 {
        let evs: Vec<Value> = (0..5)
            .map(|_| {
                let id = new_id();
                want.push(id.clone());
                event(&id, "hook.event")
            })
            .collect();
        post(&s.url, Some(&t), batch(&evs));
    }
    let got = all_ids(&s.url, &t, 10);
    assert_eq!(got, want, "every event once, in ingest order");
    let got1 = all_ids(&s.url, &t, 1);
    assert_eq!(got1, want);
    // An empty team: empty page, null cursor.
    let (st, v) = get(
        &s.url,
        "/v1/events",
        Some(&s.token_in(&unique("empty"), "r", "read")),
    );
    assert_eq!(st, 200);
    assert_eq!(v, json!({"events": [], "next_cursor": null}));
    for bad in [
        "/v1/events?after=bogus",
        "/v1/events?limit=0",
        "/v1/events?limit=1001",
        "/v1/events?limit=x",
    ] {
        let (st, v) = get(&s.url, bad, Some(&t));
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(v["error"].is_string());
    }
}

/// A transaction that took its place in the stream early but commits late must still be
/// delivered to a reader who already paged past the rows written after it.
fn a_late_commit_is_never_skipped(b: &Backend) {
    let s = Server::start(b);
    let team = unique("late");
    let t = s.token_in(&team, "r", "read");
    let first = new_id();
    post(&s.url, Some(&t), batch(&[event(&first, "hook.event")]));
    let late = new_id();
    let mut after_late = Vec::new();
    let mut seen = Vec::new();
    match b {
        Backend::Sqlite => {
            // SQLite admits one writer: hold a write transaction with the late row open.
            let c = rusqlite::Connection::open(s.dir.path().join("server.db")).unwrap();
            c.execute_batch("BEGIN IMMEDIATE").unwrap();
            c.execute(
                "INSERT INTO events (team, id, kind, occurred_at, payload, received_at) VALUES (?1, ?2, 'hook.event', '2026-11-25T17:00:00Z', '{}', '2026-11-25T17:00:00Z')",
                [&team, &late],
            )
            .unwrap();
            let (_, v) = get(&s.url, "/v1/events", Some(&t));
            seen.extend(
                v["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string()),
            );
            let cursor = v["next_cursor"].as_str().unwrap().to_string();
            c.execute_batch("COMMIT").unwrap();
            let (_, v) = get(&s.url, &format!("/v1/events?after={cursor}"), Some(&t));
            seen.extend(
                v["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string()),
            );
        }
        Backend::Postgres(url) => {
            // psql holds a transaction that inserted the late row (lower txid and seq) open,
            // while the API commits rows after it.
            use std::io::{BufRead, BufReader, Write};
            let mut psql = std::process::Command::new("psql")
                .args([url.as_str(), "-X", "-q", "-v", "ON_ERROR_STOP=1"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("psql");
            let mut sin = psql.stdin.take().unwrap();
            writeln!(sin, "BEGIN;\nINSERT INTO events (team, id, kind, occurred_at, payload) VALUES ('{team}', '{late}', 'hook.event', '2026-11-25T17:00:00Z', '{{}}');\nSELECT 'inserted';").unwrap();
            sin.flush().unwrap();
            let mut out = BufReader::new(psql.stdout.take().unwrap());
            let mut line = String::new();
            while !line.contains("inserted") {
                line.clear();
                assert!(out.read_line(&mut line).unwrap() > 0, "psql ended early");
            }
            for _ in 0..3 {
                let id = new_id();
                after_late.push(id.clone());
                let (st, _) = post(&s.url, Some(&t), batch(&[event(&id, "hook.event")]));
                assert_eq!(st, 200);
            }
            // Page through everything visible now.
            let mut cursor = String::new();
            loop {
                let (_, v) = get(&s.url, &format!("/v1/events?after={cursor}"), Some(&t));
                let evs = v["events"].as_array().unwrap();
                if evs.is_empty() {
                    break;
                }
                seen.extend(evs.iter().map(|e| e["id"].as_str().unwrap().to_string()));
                cursor = v["next_cursor"].as_str().unwrap().to_string();
            }
            writeln!(sin, "COMMIT;").unwrap();
            drop(sin);
            assert!(psql.wait().unwrap().success());
            loop {
                let (_, v) = get(&s.url, &format!("/v1/events?after={cursor}"), Some(&t));
                let evs = v["events"].as_array().unwrap();
                if evs.is_empty() {
                    break;
                }
                seen.extend(evs.iter().map(|e| e["id"].as_str().unwrap().to_string()));
                cursor = v["next_cursor"].as_str().unwrap().to_string();
            }
        }
    }
    let mut want: HashSet<String> = [first, late].into_iter().collect();
    want.extend(after_late);
    let got: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(got, want, "every row delivered");
    assert_eq!(seen.len(), want.len(), "no row delivered twice");
}

fn sixteen_clients_replaying_one_batch_store_each_id_once(b: &Backend) {
    let s = Server::start(b);
    let t = s.token_in(&unique("replay"), "r", "read");
    let ids: Vec<String> = (0..100).map(|_| new_id()).collect();
    let body = batch(
        &ids.iter()
            .map(|i| event(i, "hook.event"))
            .collect::<Vec<_>>(),
    );
    let accepted: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..16)
            .map(|_| {
                let (url, t, body) = (&s.url, &t, &body);
                sc.spawn(move || {
                    let mut acc = 0;
                    for _ in 0..3 {
                        let (st, v) = post(url, Some(t), body.clone());
                        assert_eq!(st, 200, "{v}");
                        acc += v["results"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|r| r["status"] == "accepted")
                            .count();
                    }
                    acc
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(
        accepted, 100,
        "each id accepted exactly once across 48 replays"
    );
    let mut got = all_ids(&s.url, &t, 1000);
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
}

fn bad_input_gets_4xx_and_the_server_stays_up(b: &Backend) {
    let s = Server::start(b);
    let t = s.token_in(&unique("fuzz"), "r", "read");
    let mut bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"{\"events\":\"x\"}".to_vec(),
        b"{\"events\":[1,2,\"x\",null,[]]}".to_vec(),
        b"{\"events\":[{\"id\":5,\"kind\":[],\"occurred_at\":{},\"payload\":\"s\"}]}".to_vec(),
        format!("{}{}", "[".repeat(50_000), "]".repeat(50_000)).into_bytes(),
        format!("{{\"events\":[{{\"id\":\"{}\",\"kind\":\"{}\",\"occurred_at\":\"x\",\"payload\":{{}}}}]}}", new_id(), "k".repeat(900_000)).into_bytes(),
        b"{\"events\":[{\"id\":\"\xff\xfe\"}]}".to_vec(),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for n in 0..40 {
        let len = (n * 997) % 5000;
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            v.push(seed as u8);
        }
        bodies.push(v);
    }
    for body in bodies {
        let (st, v) = post(&s.url, Some(&t), body);
        assert!((200..500).contains(&st), "got {st}: {v}");
        if st >= 400 {
            assert!(v["error"].is_string(), "{v}");
        }
    }
    for path in ["/v1/nope", "/v1/events?after=%ff%fe", "/v1/events?limit=-1"] {
        let (st, _) = get(&s.url, path, Some(&t));
        assert!((400..500).contains(&st), "{path}: {st}");
    }
    let (st, _) = get(&s.url, "/v1/health", None);
    assert_eq!(st, 200, "server still up");
}

fn sigterm_exits_cleanly(b: &Backend) {
    let mut s = Server::start(b);
    let t = s.token_in(&unique("term"), "r", "read");
    // Requests in flight while the signal arrives all complete.
    let url = s.url.clone();
    let tt = t.clone();
    let writer = std::thread::spawn(move || {
        let mut ok = 0;
        for _ in 0..50 {
            let evs: Vec<Value> = (0..100).map(|_| event(&new_id(), "hook.event")).collect();
            match post(&url, Some(&tt), batch(&evs)) {
                (200, _) => ok += 1,
                (0, _) => break, // connection refused: the server has stopped listening
                (st, v) => panic!("unexpected {st}: {v}"),
            }
        }
        ok
    });
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(s.stop(), Some(0), "exit 0 on SIGTERM");
    let ok = writer.join().unwrap();
    // Restart on the same database: every acknowledged batch is there.
    s.spawn();
    let (_, st) = get(&s.url, "/v1/stats", Some(&t));
    assert_eq!(st["events"].as_u64().unwrap(), ok as u64 * 100);
}

/// Transaction ids that gain a digit (999 → 1000) must not reorder the stream: the cursor
/// compares them as numbers.
#[test]
fn postgres_cursor_orders_txids_numerically_across_a_digit_boundary() {
    let Some(b) = Backend::postgres() else { return };
    let Backend::Postgres(url) = &b else { return };
    let s = Server::start(&b);
    let t = s.token_in(&unique("digits"), "r", "read");
    let psql = |sql: &str| {
        let out = std::process::Command::new("psql")
            .args([url.as_str(), "-X", "-At", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let mut want = Vec::new();
    for _ in 0..3 {
        let id = new_id();
        post(&s.url, Some(&t), batch(&[event(&id, "hook.event")]));
        want.push(id);
    }
    // Burn transaction ids up to the next power of ten.
    let now: u64 = psql("SELECT pg_current_xact_id()::text").parse().unwrap();
    let target = 10u64.pow(now.to_string().len() as u32);
    psql(&format!(
        "DO $$ BEGIN FOR i IN 1..{} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$",
        target - now + 1
    ));
    for _ in 0..3 {
        let id = new_id();
        post(&s.url, Some(&t), batch(&[event(&id, "hook.event")]));
        want.push(id);
    }
    assert_eq!(all_ids(&s.url, &t, 2), want);
}
