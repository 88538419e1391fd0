//! An outage must not read as success: with the server down, `sync now` exits non-zero and says
//! since when the server has been unreachable, and `daemon status` / `sync status` show it with
//! the last error — until the server answers again.

mod common;
use common::*;

#[test]
fn sync_now_fails_during_an_outage_and_status_says_since_when() {
    let mut server = TestServer::start(&Backend::Sqlite);
    let e = Env::init();
    let (_, err, code) = e.login(&server, &server.token("dev", "ingest"), false);
    assert_eq!(code, 0, "{err}");
    server.stop();
    e.enqueue_direct(2);
    let (out, err, code) = e.run(&["sync", "now"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("nothing could be delivered; 2 events wait"),
        "{err}"
    );
    assert!(err.contains("unreachable since"), "{err}");
    let (out, _, _) = e.run(&["daemon", "status"]);
    assert!(out.contains("unreachable  since"), "{out}");
    assert!(out.contains("last error"), "{out}");
    let (out, _, _) = e.run(&["sync", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["unreachable_since"].is_string(), "{v}");
    assert!(v["last_error"].is_string(), "{v}");
    // The server is back: delivered, exit 0, no longer unreachable.
    server.spawn();
    let mut ok = false;
    for _ in 0..60 {
        let (_, _, code) = e.run(&["sync", "now"]);
        if code == 0 && e.counts()["pending"] == 0 {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(ok, "delivered after the outage");
    let (out, _, _) = e.run(&["sync", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["unreachable_since"].is_null(), "{v}");
}
