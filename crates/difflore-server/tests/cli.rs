//! `difflore-server` as an operator runs it: tokens, settings from flags, env and config file,
//! and clear errors.

mod common;
use common::*;
use std::process::Command;

#[test]
fn token_create_prints_only_the_token_and_refuses_nonsense() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("s.db").display());
    let out = Command::new(BIN)
        .args([
            "token",
            "create",
            "--team",
            "acme",
            "--name",
            "ci",
            "--database",
            &db,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(
        token.starts_with("dfl_") && token.trim().len() == 4 + 12 + 1 + 48,
        "{token}"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("ingest") && err.contains("only once"), "{err}");
    // The secret is not in the database file.
    let raw = std::fs::read(dir.path().join("s.db")).unwrap();
    let secret = &token.trim()[17..];
    assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
    for (args, needle) in [
        (
            vec!["token", "create", "--team", "acme", "--name", "ci"],
            "exists already",
        ),
        (
            vec![
                "token", "create", "--team", "acme", "--name", "x", "--role", "root",
            ],
            "unknown role",
        ),
        (
            vec!["token", "create", "--team", "", "--name", "x"],
            "--team",
        ),
        (vec!["token", "revoke", "nope"], "no active token"),
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .args(["--database", &db])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn settings_from_env_and_config_file() {
    let dir = tempfile::tempdir().unwrap();
    // --data-dir from the environment.
    let out = Command::new(BIN)
        .args(["token", "create", "--team", "t", "--name", "n"])
        .env("DIFFLORE_SERVER_DATA_DIR", dir.path().join("data"))
        .env_remove("DIFFLORE_SERVER_DATABASE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("data/server.db").exists());
    // database from a config file.
    let cfg = dir.path().join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "database = \"sqlite:{}\"\n",
            dir.path().join("cfg.db").display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["token", "list", "--config"])
        .arg(&cfg)
        .env_remove("DIFFLORE_SERVER_DATABASE")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("cfg.db").exists());
    // A bad config file and a bad database URL are clear errors.
    std::fs::write(&cfg, "listen = 5\n").unwrap();
    let out = Command::new(BIN)
        .args(["token", "list", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.toml"));
    let out = Command::new(BIN)
        .args(["token", "list", "--database", "mysql://x/y"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database"));
    let out = Command::new(BIN)
        .args(["serve", "--listen", "not-an-addr", "--database"])
        .arg(format!("sqlite:{}", dir.path().join("x.db").display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
}

#[test]
fn unreachable_postgres_is_a_clear_error_with_the_password_hidden() {
    let out = Command::new(BIN)
        .args([
            "token",
            "list",
            "--database",
            "postgres://app:sekret@127.0.0.1:1/db",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot"), "{err}");
    assert!(!err.contains("sekret"), "{err}");
}

/// A database made by the first schema (roles ingest, read, admin) is migrated in place: every
/// token keeps working with its role, and `maintainer` tokens can be created afterwards.
#[test]
fn a_schema_one_database_gains_the_maintainer_role_and_keeps_its_tokens() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let db = format!("sqlite:{}", path.display());
    // Schema 1 with three tokens, as a server of that time left it.
    let mut old = Vec::new();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!(
            "../../difflore-server-sqlite/src/migrations/0001_init.sql"
        ))
        .unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        for (i, role) in ["ingest", "read", "admin"].iter().enumerate() {
            let id = format!("{i:012x}");
            let secret = format!("{:048x}", i + 7);
            let sha: String = Sha256::digest(secret.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            c.execute(
                "INSERT INTO tokens VALUES (?1, 'acme', ?2, ?3, ?4, '2026-01-01T00:00:00Z', NULL)",
                rusqlite::params![id, format!("old-{role}"), role, sha],
            )
            .unwrap();
            old.push((format!("dfl_{id}_{secret}"), *role));
        }
        // The old schema refuses the new role: the migration is what makes it possible.
        assert!(
            c.execute(
                "INSERT INTO tokens VALUES ('x', 't', 'n', 'maintainer', 's', 'now', NULL)",
                [],
            )
            .is_err()
        );
    }
    let out = Command::new(BIN)
        .args([
            "token",
            "create",
            "--team",
            "acme",
            "--name",
            "lead",
            "--role",
            "maintainer",
            "--database",
            &db,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lead = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let v: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(v >= 2, "the first command migrated the file (schema {v})");

    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let _reaped = difflore_test_support::proc::Reaped(child);
    for (token, role) in &old {
        let (st, w) = get(&url, "/v1/whoami", Some(token));
        assert_eq!(st, 200, "{role}: {w}");
        assert_eq!(w["token_name"], format!("old-{role}"));
        assert!(
            w["roles"].as_array().unwrap().iter().any(|r| r == role),
            "{w}"
        );
    }
    let (st, w) = get(&url, "/v1/whoami", Some(&lead));
    assert_eq!(st, 200);
    assert_eq!(
        w["roles"],
        serde_json::json!(["ingest", "read", "maintainer"])
    );
}
