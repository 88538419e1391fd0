//! `kill -9` of a real `difflore-server` under load, restarted on the same port each time, on
//! each backend: every event the server answered `accepted` is stored, exactly once. Serial
//! nextest group (load).

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn post(agent: &ureq::Agent, url: &str, token: &str, body: &str) -> Option<Value> {
    let mut r = agent
        .post(format!("{url}/v1/events"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body)
        .ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    r.body_mut().read_json().ok()
}

fn killed_under_load_loses_no_accepted_event(b: &Backend, kills: usize) {
    let mut server = TestServer::start(b);
    let token = server.token("dev", "admin");
    let accepted: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let url = server.url.clone();
    std::thread::scope(|sc| {
        for _ in 0..3 {
            let (agent, url, token, accepted, stop) = (&agent, &url, &token, &accepted, &stop);
            sc.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let evs: Vec<Value> = (0..50)
                        .map(|_| {
                            json!({"id": uuid::Uuid::now_v7().to_string(), "kind": "hook.event",
                                   "occurred_at": "2026-11-29T10:00:00Z", "payload": {"n": 1}})
                        })
                        .collect();
                    let body = json!({ "events": evs }).to_string();
                    match post(agent, url, token, &body) {
                        Some(v) => {
                            let mut a = accepted.lock().unwrap();
                            for r in v["results"].as_array().into_iter().flatten() {
                                if r["status"] == "accepted" {
                                    a.push(r["id"].as_str().unwrap_or_default().to_string());
                                }
                            }
                        }
                        None => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            });
        }
        for k in 0..kills {
            std::thread::sleep(Duration::from_millis(300 + 97 * k as u64 % 400));
            if let Some(mut c) = server.child.take() {
                c.kill().unwrap(); // SIGKILL
                c.wait().unwrap();
            }
            server.spawn();
        }
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::SeqCst);
    });
    let accepted = accepted.into_inner().unwrap();
    assert!(
        accepted.len() > 500,
        "the load was real: {}",
        accepted.len()
    );
    let stored = server.ids(&token);
    let distinct: HashSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "each event stored once");
    let missing: Vec<&String> = accepted
        .iter()
        .filter(|id| !distinct.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} accepted events missing after {kills} kills",
        missing.len()
    );
}

#[test]
fn sqlite_server_killed_ten_times_under_load() {
    killed_under_load_loses_no_accepted_event(&Backend::Sqlite, 10);
}

#[test]
fn postgres_server_killed_five_times_under_load() {
    if let Some(b) = Backend::postgres() {
        killed_under_load_loses_no_accepted_event(&b, 5);
    }
}
