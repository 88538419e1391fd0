//! Regression tests for defects found by probing the server from outside: a NUL character in
//! one event, writers carrying the same ids in opposite orders, idle and slow connections,
//! malformed chunked bodies and payloads nested too deep. Each runs against a real server on
//! each backend where the backend matters.

#[macro_use]
mod common;
use common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

on_both_backends!(
    a_nul_character_rejects_that_event_only,
    writers_with_the_same_ids_in_opposite_orders_never_get_503,
);

fn statuses(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

fn a_nul_character_rejects_that_event_only(b: &Backend) {
    let s = Server::start(b);
    let t = s.token_in(&unique("nul"), "r", "read");
    let good: Vec<String> = (0..3).map(|_| new_id()).collect();
    let mut evs: Vec<Value> = good.iter().map(|i| event(i, "hook.event")).collect();
    let bad = new_id();
    evs.insert(
        1,
        json!({"id": bad, "kind": "hook.event", "occurred_at": "2026-11-25T17:00:00Z",
               "payload": {"files": ["a\u{0}b"]}}),
    );
    let key = new_id();
    evs.push(
        json!({"id": key, "kind": "hook.event", "occurred_at": "2026-11-25T17:00:00Z",
                    "payload": {"k\u{0}": 1}}),
    );
    let (st, v) = post(&s.url, Some(&t), batch(&evs));
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        statuses(&v),
        ["accepted", "rejected", "accepted", "accepted", "rejected"]
    );
    assert!(
        v["results"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("NUL character (\\u0000) at /files/0"),
        "{v}"
    );
    let mut got = all_ids(&s.url, &t, 100);
    got.sort();
    let mut want = good;
    want.sort();
    assert_eq!(
        got, want,
        "the good events are stored, the bad ones are not"
    );
}

fn writers_with_the_same_ids_in_opposite_orders_never_get_503(b: &Backend) {
    let s = Server::start(b);
    let t = s.token_in(&unique("order"), "r", "read");
    let ids: Vec<String> = (0..100).map(|_| new_id()).collect();
    let mut answers: Vec<(u16, Value)> = Vec::new();
    for round in 0..5 {
        // Every round a fresh set of 100 ids, sent by 20 writers in shuffled orders.
        let ids: Vec<String> = if round == 0 {
            ids.clone()
        } else {
            (0..100).map(|_| new_id()).collect()
        };
        let got: Vec<(u16, Value)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..20)
                .map(|w| {
                    let mut mine = ids.clone();
                    if w % 2 == 1 {
                        mine.reverse();
                    }
                    mine.rotate_left(w * 5);
                    let body = batch(
                        &mine
                            .iter()
                            .map(|i| event(i, "hook.event"))
                            .collect::<Vec<_>>(),
                    );
                    let (url, t) = (&s.url, &t);
                    sc.spawn(move || post(url, Some(t), body))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let accepted: usize = got
            .iter()
            .filter(|(st, _)| *st == 200)
            .map(|(_, v)| statuses(v).iter().filter(|s| *s == "accepted").count())
            .sum();
        assert_eq!(
            accepted, 100,
            "each id accepted exactly once in round {round}"
        );
        answers.extend(got);
    }
    let bad: Vec<&(u16, Value)> = answers.iter().filter(|(st, _)| *st != 200).collect();
    assert!(bad.is_empty(), "every request answered 200: {bad:?}");
}

/// Opens a raw connection to the server.
fn raw(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("http://");
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c
}

/// Reads until the server closes the connection; returns what it sent.
fn read_to_close(c: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn idle_and_slow_header_connections_are_closed() {
    let s = Server::start_with_env(
        &Backend::Sqlite,
        &[("DIFFLORE_SERVER_HEADER_TIMEOUT_SECS", "1")],
    );
    // Sends nothing at all.
    let mut idle = raw(&s.url);
    // Sends a header byte at a time, slower than the header timeout allows in all.
    let mut slow = raw(&s.url);
    let start = Instant::now();
    let dripper = std::thread::spawn(move || {
        for b in b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" {
            if slow.write_all(&[*b]).is_err() {
                return (true, slow);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (false, slow)
    });
    let _ = read_to_close(&mut idle);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "an idle connection is closed: {:?}",
        start.elapsed()
    );
    let (_, mut slow) = dripper.join().unwrap();
    let _ = read_to_close(&mut slow);
    assert!(start.elapsed() < Duration::from_secs(30));
    // A keep-alive connection that goes quiet after one request is closed too.
    let mut ka = raw(&s.url);
    ka.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let t = Instant::now();
    let text = read_to_close(&mut ka);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(20));
    // The server still answers.
    let (st, _) = get(&s.url, "/v1/health", None);
    assert_eq!(st, 200);
}

#[test]
fn connections_past_the_cap_are_refused_and_health_still_answers() {
    let s = Server::start_with_env(
        &Backend::Sqlite,
        &[("DIFFLORE_SERVER_MAX_CONNECTIONS", "50")],
    );
    let held: Vec<TcpStream> = (0..120).map(|_| raw(&s.url)).collect();
    // Connections past the cap are closed at once, without an answer.
    std::thread::sleep(Duration::from_millis(300));
    let mut closed = 0;
    for mut c in held.into_iter().skip(50) {
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut b = [0u8; 1];
        if matches!(c.read(&mut b), Ok(0)) {
            closed += 1;
        }
    }
    assert!(closed >= 60, "connections past the cap closed: {closed}");
    // With the idle ones gone, health answers again promptly.
    let start = Instant::now();
    loop {
        let (st, _) = get(&s.url, "/v1/health", None);
        if st == 200 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "health answers");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_bad_chunk_size_is_400_and_deep_nesting_names_the_event() {
    let s = Server::start(&Backend::Sqlite);
    let t = s.token_in(&unique("chunk"), "r", "read");
    let mut c = raw(&s.url);
    write!(
        c,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
    )
    .unwrap();
    let text = read_to_close(&mut c);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    // One event nested 200 levels deep, beside a good one.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let good = new_id();
    let body = format!(
        r#"{{"events":[{},{{"id":"{}","kind":"hook.event","occurred_at":"2026-11-25T17:00:00Z","payload":{{"x":{deep}}}}}]}}"#,
        event(&good, "hook.event"),
        new_id()
    );
    let (st, v) = post(&s.url, Some(&t), body);
    assert_eq!(st, 400, "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("events[1]") && msg.contains("nested"), "{msg}");
}

#[test]
fn a_hundred_megabyte_body_is_refused_without_being_read() {
    let s = Server::start(&Backend::Sqlite);
    let t = s.token_in(&unique("big"), "r", "read");
    let mut c = raw(&s.url);
    write!(
        c,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n{{\"events\":["
    )
    .unwrap();
    // Only the first bytes are sent: the answer must not wait for the other 100 MB.
    let started = Instant::now();
    let mut head = [0u8; 12];
    c.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&head));
    assert!(started.elapsed() < Duration::from_secs(10));
}
