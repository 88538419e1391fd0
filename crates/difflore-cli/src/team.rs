//! Decisions on the team's rules: a team rule (pulled into the local mirror) is decided on the
//! team's server — with the revision this machine last pulled — and the server's answer is
//! written back into the mirror. Nothing about a team rule is decided offline.

use crate::context::tuning;
use anyhow::{Context, bail};
use difflore_core::home::Home;
use difflore_proto::rules::{Action, Decision, RuleChanges};
use difflore_rules::memory::Rule;
use difflore_rules::mirror;
use difflore_sync::client::{Client, DecisionFailure};
use difflore_sync::creds;
use rusqlite::Connection;

/// Sends `action` for the team rule `r` to the server; the updated rule goes into the mirror.
pub fn decide(
    conn: &Connection,
    home: &Home,
    r: &Rule,
    action: Action,
    reason: Option<&str>,
    changes: Option<RuleChanges>,
) -> anyhow::Result<()> {
    let creds = creds::load(home)?.context(
        "this is a team rule, decided on the team's server, and this machine is not logged in: `difflore sync login` first",
    )?;
    let client = Client::new(&creds, tuning().request_timeout)?;
    let d = Decision {
        action,
        expected_revision: r.team_revision.unwrap_or(1),
        reason: reason.map(str::to_string),
        changes,
        into: None,
    };
    match client.decide(&r.id, &d) {
        Ok(rule) => {
            mirror::apply(conn, &[rule])?;
            Ok(())
        }
        Err(DecisionFailure::Unreachable(why)) => bail!(
            "cannot reach the team's server ({why}); nothing was decided — team rules are decided there, never offline"
        ),
        Err(DecisionFailure::Forbidden(why)) => bail!(
            "the team's server refused: {why}. Deciding team rules needs a token with the `maintainer` role"
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
