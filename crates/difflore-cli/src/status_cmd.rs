//! `difflore init` and `difflore status`.

use crate::context::home;
use crate::render;
use difflore_core::home::Home;
use difflore_core::{status, store};
use difflore_sync::control::DaemonState;

/// Creates or migrates the store.
pub fn init() -> anyhow::Result<()> {
    let home = home()?;
    let existed = home.db_path().exists();
    let conn = store::open_for_write(&home)?;
    let v = store::schema_version(&conn)?;
    if existed {
        println!(
            "difflore home {} is ready (schema version {v})",
            home.root().display()
        );
    } else {
        println!(
            "created difflore home {} (schema version {v})",
            home.root().display()
        );
    }
    println!(
        "next:\n  difflore import github OWNER/REPO   review history into candidate rules (or: import gitlab …, import file …)\n  difflore memory review              approve the rules worth keeping\n  difflore agents install             give them to Claude Code, Codex, Gemini CLI and Cursor"
    );
    Ok(())
}

pub fn status(json: bool) -> anyhow::Result<()> {
    let home = home()?;
    let s = status::gather(&home);
    let d = difflore_sync::control::status(&home);
    let rules = rule_counts(&home);
    let agents = crate::agents_cmd::wired();
    if json {
        let mut v = serde_json::to_value(&s)?;
        v["sync"] = serde_json::to_value(&d)?;
        v["rules"] = serde_json::json!(
            rules
                .iter()
                .cloned()
                .collect::<std::collections::BTreeMap<_, _>>()
        );
        v["agents"] = serde_json::json!(
            agents
                .iter()
                .map(|(a, sc, st)| serde_json::json!({"agent": a, "scope": sc, "state": st}))
                .collect::<Vec<_>>()
        );
        return render::json(&v);
    }
    print_store(&s);
    print_sync(&d);
    if !rules.is_empty() {
        println!(
            "rules          {}",
            rules
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if agents.is_empty() {
        println!("agents         none wired (run `difflore agents install`)");
    }
    for (i, (a, sc, st)) in agents.iter().enumerate() {
        let label = if i == 0 { "agents" } else { "" };
        println!("{label:<15}{a} ({sc} scope): {st}");
    }
    println!("last error     {}", s.last_error.as_deref().unwrap_or("-"));
    Ok(())
}

/// The home, its database, the queue, the spool and the capture switch.
fn print_store(s: &status::Status) {
    println!("home           {}", s.home);
    println!(
        "database       {} ({})",
        s.database.path,
        if s.database.exists {
            render::bytes(s.database.size_bytes)
        } else {
            "missing".into()
        }
    );
    match s.database.schema_version {
        Some(v) if v == s.database.expected_schema_version => println!("schema         {v}"),
        Some(v) => println!(
            "schema         {v} (this difflore expects {}: MISMATCH)",
            s.database.expected_schema_version
        ),
        None => println!("schema         unknown"),
    }
    if let Some(p) = &s.database.problem {
        println!("problem        {p}");
    }
    if let Some(o) = &s.outbox {
        println!(
            "queue          {} pending, {} leased, {} dead, {} parked",
            o.counts.pending, o.counts.leased, o.counts.dead, o.counts.parked
        );
        println!(
            "oldest pending {}",
            o.oldest_pending_age_s.map_or("-".into(), render::age)
        );
        println!("dropped        {}", o.dropped);
        if o.dropped > 0 {
            println!(
                "               (the queue hit its cap; raise [capture] queue_cap or deliver the backlog)"
            );
        }
    }
    if s.inbox > 0 {
        println!(
            "hook inbox     {} (captured; they join the queue at the next write or daemon turn)",
            s.inbox
        );
    }
    if s.spooled > 0 {
        println!(
            "spooled        {} (the database was busy for the hook; they join the queue at the next write)",
            s.spooled
        );
    }
    println!(
        "capture        {}",
        if s.capture.env_switch_on {
            "on"
        } else {
            "off (DIFFLORE_CAPTURE)"
        }
    );
}

/// The login and the daemon.
fn print_sync(d: &difflore_sync::control::DaemonStatus) {
    if d.logged_in {
        println!(
            "sync           logged in to {}",
            d.server.as_deref().unwrap_or("?")
        );
    } else {
        println!("sync           not logged in (events stay local; the last 7 days are kept)");
    }
    let daemon = match d.state {
        DaemonState::Running => format!(
            "running (pid {}, {}){}",
            d.pid.unwrap_or(0),
            d.activity.as_deref().unwrap_or("running"),
            if d.version_mismatch {
                " — other version, restart it"
            } else {
                ""
            }
        ),
        DaemonState::Stale => "not running (stale lock file from a crash)".into(),
        DaemonState::NotRunning => "not running".into(),
    };
    println!(
        "daemon         {daemon}; breaker {}; delivered {}",
        d.breaker, d.delivered
    );
    if d.logged_in && d.state != DaemonState::Running {
        println!(
            "WARNING        logged in but no daemon is running: events are not delivered. Run `difflore daemon start`."
        );
    }
}

/// Rules per status (`pending`, `active`, …), read-only; empty when the store cannot be read.
fn rule_counts(home: &Home) -> Vec<(String, i64)> {
    let Ok(conn) = store::open_read_only(home) else {
        return Vec::new();
    };
    let Ok(mut st) = conn.prepare(
        "SELECT status, COUNT(*) FROM rules GROUP BY status
         ORDER BY CASE status WHEN 'active' THEN 0 WHEN 'pending' THEN 1 WHEN 'paused' THEN 2 ELSE 3 END",
    ) else {
        return Vec::new();
    };
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map(|rows| rows.flatten().collect())
        .unwrap_or_default()
}
