//! The one decision path of the CLI (`memory approve|reject|pause|resume|edit|merge`, `memory review`):
//! a local rule is decided here; a team rule (pulled into the local mirror) is decided on the
//! team's server — with the revision this machine last pulled — and the server's answer is
//! written back into the mirror. Nothing about a team rule is decided offline.

use crate::context::tuning;
use anyhow::{Context, bail};
use difflore_core::home::Home;
use difflore_proto::rules::{Action, Decision, RuleChanges, Severity};
use difflore_rules::kinds::{Location, Status};
use difflore_rules::memory::{self, Rule};
use difflore_rules::mirror;
use difflore_sync::client::{Client, DecisionFailure};
use difflore_sync::creds;
use rusqlite::Connection;

/// Moves a rule (local or the team's) to `to`; returns it as it is now and whether it changed.
pub fn set_status(
    conn: &Connection,
    id: &str,
    to: Status,
    reason: Option<&str>,
) -> anyhow::Result<(Rule, bool)> {
    let current = memory::get(conn, id)?;
    if current.location != Location::Team {
        return Ok(memory::set_status(conn, id, to, reason)?);
    }
    if current.status == to {
        return Ok((current, false));
    }
    let action = match (to, current.status) {
        (Status::Active, Status::Paused) => Action::Resume,
        (Status::Active, _) => Action::Approve,
        (Status::Rejected, _) => Action::Reject,
        (Status::Paused, _) => Action::Pause,
        (Status::Pending, _) => bail!("a rule cannot be made pending again"),
    };
    decide(
        conn,
        &Home::from_env()?,
        &current,
        action,
        reason,
        None,
        None,
    )?;
    Ok((memory::get(conn, &current.id)?, true))
}

/// Edits a rule (local, or the team's on its server).
pub fn edit(conn: &Connection, id: &str, e: &memory::Edit) -> anyhow::Result<Rule> {
    let current = memory::get(conn, id)?;
    if current.location != Location::Team {
        return Ok(memory::edit(conn, id, e)?);
    }
    let changes = RuleChanges {
        title: e.title.clone(),
        statement: e.statement.clone(),
        rationale: None,
        globs: e.globs.clone(),
        severity: e.enforce.map(|on| {
            if on {
                Severity::Enforce
            } else {
                Severity::Context
            }
        }),
    };
    decide(
        conn,
        &Home::from_env()?,
        &current,
        Action::Edit,
        None,
        Some(changes),
        None,
    )?;
    Ok(memory::get(conn, &current.id)?)
}

/// Folds `other` into `keep`: this machine's rules here, team rules on the team's server (the
/// `merge` decision, then a pull so the mirror holds both as the server left them).
pub fn merge(conn: &Connection, keep: &str, other: &str) -> anyhow::Result<Rule> {
    let k = memory::get(conn, keep)?;
    let o = memory::get(conn, other)?;
    match (k.location, o.location) {
        (Location::Team, Location::Team) => {
            difflore_rules::merge::check(conn, &k, &o)?;
            let home = Home::from_env()?;
            let client = decide(conn, &home, &o, Action::Merge, None, None, Some(&k.id))?;
            difflore_sync::pull::pull(conn, &client).map_err(|e| {
                anyhow::anyhow!("merged on the team's server; pulling it back failed: {e}")
            })?;
            Ok(memory::get(conn, &k.id)?)
        }
        (Location::Team, _) | (_, Location::Team) => bail!(
            "one of these is a team rule and the other this machine's own: share the local one first (`difflore memory share ID`), then merge the two team rules"
        ),
        _ => Ok(difflore_rules::merge::merge_local(conn, &k.id, &o.id)?),
    }
}

/// Sends `action` for the team rule `r` to the server; the updated rule goes into the mirror.
/// Returns the client, for a pull after it.
fn decide(
    conn: &Connection,
    home: &Home,
    r: &Rule,
    action: Action,
    reason: Option<&str>,
    changes: Option<RuleChanges>,
    into: Option<&str>,
) -> anyhow::Result<Client> {
    let creds = creds::load(home)?.context(
        "this is a team rule, decided on the team's server, and this machine is not logged in: `difflore sync login` first",
    )?;
    let client = Client::new(&creds, tuning().request_timeout)?;
    let d = Decision {
        action,
        expected_revision: r.team_revision.unwrap_or(1),
        reason: reason.map(str::to_string),
        changes,
        into: into.map(str::to_string),
    };
    match client.decide(&r.id, &d) {
        Ok(rule) => {
            mirror::apply(conn, &[rule])?;
            Ok(client)
        }
        Err(DecisionFailure::Unreachable(why)) => bail!(
            "cannot reach the team's server ({why}); nothing was decided — team rules are decided there, never offline"
        ),
        Err(DecisionFailure::Forbidden(why)) => bail!(
            "the team's server refused: {why}. Ask a maintainer to decide it, or log in with a maintainer's token (`difflore sync login`)"
        ),
        Err(DecisionFailure::Conflict(why, current)) => {
            if let Some(c) = current {
                mirror::apply(conn, &[*c])?;
            }
            bail!(
                "{why}. This machine's copy is now the server's; look at it again (`difflore memory show`) and decide again"
            )
        }
        Err(e) => bail!("{e}"),
    }
}

/// Offers one of this machine's rules to the team: queued as a proposal and delivered now; a
/// maintainer's share is then approved through the decision API. When the server does not answer,
/// the proposal waits in the queue (pending) and the message says so.
pub fn share(conn: &Connection, home: &Home, id: &str) -> anyhow::Result<()> {
    let creds = creds::load(home)?
        .context("sharing sends the rule to the team's server: `difflore sync login` first")?;
    let cap = difflore_core::config::Config::load(&home.config_path())
        .map(|c| c.capture.queue_cap)
        .unwrap_or(difflore_core::outbox::DEFAULT_CAP);
    let offered = difflore_rules::propose::offer_rule(conn, home, id, cap)?;
    if offered.queued + offered.unchanged == 0 {
        bail!("the team rejected this rule's point before: it is not offered again");
    }
    let delivered = difflore_sync::daemon::drain_now(home, &tuning(), &mut |_, _| {})
        .map(|p| p.last_error.is_none())
        .unwrap_or(false);
    if !delivered {
        println!(
            "shared: the proposal waits in the queue (the server did not answer); it is pending for a maintainer once delivered"
        );
        return Ok(());
    }
    let client = Client::new(&creds, tuning().request_timeout)?;
    let who = client.whoami().ok();
    let maintainer = who
        .as_ref()
        .is_some_and(|w| w.roles.iter().any(|r| r == "maintainer"));
    if !maintainer {
        println!("shared: pending on the team's server until a maintainer decides");
        return Ok(());
    }
    let d = Decision {
        action: Action::Approve,
        expected_revision: 1,
        reason: Some("shared by a maintainer".into()),
        changes: None,
        into: None,
    };
    match client.decide(id, &d) {
        Ok(rule) => {
            mirror::apply(conn, &[rule])?;
            println!("shared and approved: every developer's agents get it at their next pull");
        }
        Err(e) => println!("shared: pending on the team's server ({e})"),
    }
    Ok(())
}
