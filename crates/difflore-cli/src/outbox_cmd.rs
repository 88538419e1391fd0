//! `difflore outbox status|list|show|retry|purge`.

use crate::cli::OutboxCommand;
use crate::context::home;
use crate::render;
use anyhow::{Context, bail};
use difflore_core::home::Home;
use difflore_core::outbox::{Outbox, RetrySelector, Row, State};
use difflore_core::{clock, spool, store};
use serde_json::json;

pub fn run(cmd: OutboxCommand) -> anyhow::Result<()> {
    let home = home()?;
    match cmd {
        OutboxCommand::Status(j) => status(&home, j.json),
        OutboxCommand::List { state, limit, json } => {
            list(&home, state.as_deref(), limit, json.json)
        }
        OutboxCommand::Show { id, json } => show(&home, &id, json.json),
        OutboxCommand::Retry { dead, parked, id } => retry(&home, dead, parked, id),
        OutboxCommand::Purge { dead } => {
            if !dead {
                bail!("nothing to purge: pass --dead");
            }
            let conn = store::open_for_write(&home)?;
            let n = Outbox::new(&conn).purge_dead()?;
            println!(
                "purged {n} dead {}",
                if n == 1 { "event" } else { "events" }
            );
            Ok(())
        }
    }
}

/// `outbox status`: events per state, dropped, spooled, the oldest pending.
fn status(home: &Home, json: bool) -> anyhow::Result<()> {
    let conn = store::open_for_write(home)?;
    let s = Outbox::new(&conn).summary(clock::now_ms())?;
    let spooled = spool::size(home);
    if json {
        return render::json(&json!({
            "schema_version": 1,
            "counts": s.counts,
            "dropped": s.dropped,
            "oldest_pending_age_s": s.oldest_pending_age_s,
            "spooled": spooled.files,
        }));
    }
    let mut t = render::table(&["state", "events"]);
    t.add_row(vec!["pending".to_string(), s.counts.pending.to_string()]);
    t.add_row(vec!["leased".to_string(), s.counts.leased.to_string()]);
    t.add_row(vec!["dead".to_string(), s.counts.dead.to_string()]);
    t.add_row(vec!["parked".to_string(), s.counts.parked.to_string()]);
    println!("{t}");
    println!();
    println!("dropped at cap:  {}", s.dropped);
    if spooled.files > 0 {
        println!(
            "spooled:         {} (the database was busy; they join the queue at the next write)",
            spooled.files
        );
    }
    println!(
        "oldest pending:  {}",
        s.oldest_pending_age_s.map_or("-".into(), render::age)
    );
    Ok(())
}

/// `outbox list`: the newest events, optionally of one state.
fn list(home: &Home, state: Option<&str>, limit: usize, json: bool) -> anyhow::Result<()> {
    let state = match state {
        None => None,
        Some(s) => Some(State::parse(s).with_context(|| {
            format!("unknown state {s:?}: expected pending, leased, dead or parked")
        })?),
    };
    let conn = store::open_for_write(home)?;
    let rows = Outbox::new(&conn).list(state, limit)?;
    if json {
        return render::json(&json!({"schema_version": 1, "events": rows}));
    }
    if rows.is_empty() {
        println!(
            "no events{}",
            state.map_or(String::new(), |s| format!(" in state {}", s.as_str()))
        );
        return Ok(());
    }
    let now = clock::now_ms();
    let mut t = render::table(&["id", "kind", "state", "attempts", "age", "last error"]);
    for r in &rows {
        t.add_row(vec![
            r.id.clone(),
            r.kind.clone(),
            r.state.as_str().to_string(),
            r.attempts.to_string(),
            render::age((now - r.created_at) / 1000),
            r.last_error.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
    Ok(())
}

/// `outbox show ID`: one event, payload included.
fn show(home: &Home, id: &str, json: bool) -> anyhow::Result<()> {
    let conn = store::open_for_write(home)?;
    let row = find_one(&Outbox::new(&conn), id)?;
    if json {
        return render::json(&json!({"schema_version": 1, "event": row}));
    }
    println!("id           {}", row.id);
    println!("kind         {}", row.kind);
    println!("occurred at  {}", row.occurred_at);
    println!("state        {}", row.state.as_str());
    println!("attempts     {}", row.attempts);
    println!("bytes        {}", row.bytes);
    if let Some(o) = &row.lease_owner {
        println!("lease owner  {o}");
    }
    if let Some(e) = &row.last_error {
        println!("last error   {e}");
    }
    println!("payload");
    println!(
        "{}",
        serde_json::to_string_pretty(&row.payload.clone().unwrap_or_default())?
    );
    Ok(())
}

/// `outbox retry --dead | --parked | ID`: back to pending.
fn retry(home: &Home, dead: bool, parked: bool, id: Option<String>) -> anyhow::Result<()> {
    let conn = store::open_for_write(home)?;
    let ob = Outbox::new(&conn);
    let now = clock::now_ms();
    let (n, what) = if dead {
        (ob.retry(&RetrySelector::Dead, now)?, "dead".to_string())
    } else if parked {
        (ob.retry(&RetrySelector::Parked, now)?, "parked".to_string())
    } else {
        let prefix = id.context("give --dead, --parked or an event id")?;
        let row = find_one(&ob, &prefix)?;
        if row.state == State::Leased {
            bail!(
                "event {} is being delivered right now (leased); try again later",
                row.id
            );
        }
        (
            ob.retry(&RetrySelector::Id(row.id.clone()), now)?,
            format!("event {}", row.id),
        )
    };
    println!(
        "{n} {} back to pending ({what})",
        if n == 1 { "event" } else { "events" }
    );
    Ok(())
}

fn find_one(ob: &Outbox<'_>, prefix: &str) -> anyhow::Result<Row> {
    let p = prefix.trim();
    if p.len() < 4 || !p.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        bail!("{prefix:?} is not an event id or an id prefix of at least 4 hex digits");
    }
    let mut rows = ob.find(p, 2)?;
    match rows.len() {
        0 => bail!("no queued event with id {p} (delivered events leave the queue)"),
        1 => Ok(rows.remove(0)),
        _ => bail!("id prefix {p} is ambiguous; give more digits"),
    }
}
