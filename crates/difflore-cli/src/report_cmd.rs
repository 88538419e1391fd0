//! `difflore report`: did the rules reach the agents? Per rule, how often it was served in the
//! window, when last, at which moments and by which agents, with a per-day sparkline — the
//! team's figures when logged in and the server answers (`GET /v1/outcomes`), this machine's own
//! daily totals otherwise, and it says which — how often reviewers made each rule's point before
//! and since it became active (the team's count, or this machine's), the comments that made it
//! again since (and whether the rule had been served on that file), and stale rules.

use crate::context::{home, tuning};
use crate::render;
use difflore_core::{outcomes, repo, store};
use difflore_proto::outcomes::{Recurrence, ServedFigures, summarize};
use difflore_rules::kinds::{Location, Status};
use difflore_rules::{memory, stale};
use difflore_sync::client::Client;
use difflore_sync::creds;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

use difflore_proto::outcomes::RECURRENCE_DAYS;

/// Days the sparkline covers.
const SPARK_DAYS: i64 = 30;

pub struct ReportArgs {
    pub repo: Option<String>,
    /// The checkout the glob and evidence checks look at (default: the current directory's).
    pub checkout: Option<std::path::PathBuf>,
    pub all_repos: bool,
    pub since: Option<String>,
    pub json: bool,
}

fn day_ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::days(days))
        .date()
        .to_string()
}

fn parse_day(s: &str) -> anyhow::Result<String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &fmt)
        .map(|d| d.to_string())
        .map_err(|_| anyhow::anyhow!("--since must be a day, YYYY-MM-DD (got {s:?})"))
}

/// Where the figures come from, why (when the team's were out of reach), the serving figures
/// and the team's recurrence counts.
type Figures = (
    String,
    Option<String>,
    Vec<ServedFigures>,
    BTreeMap<String, Recurrence>,
);

/// The figures and where they come from.
fn figures(
    home: &difflore_core::home::Home,
    conn: &rusqlite::Connection,
    since: &str,
    repo: Option<&str>,
) -> anyhow::Result<Figures> {
    let local = |note: Option<String>| -> anyhow::Result<Figures> {
        let rows = outcomes::served_rows(conn, since, repo)?;
        Ok(("local".to_string(), note, summarize(rows), BTreeMap::new()))
    };
    let Some(c) = creds::load(home)? else {
        return local(None);
    };
    let team = Client::new(&c, tuning().request_timeout)
        .map_err(|e| e.to_string())
        .and_then(|client| client.get_outcomes(since).map_err(|e| e.to_string()));
    match team {
        Ok(o) => Ok(("team".to_string(), None, o.rules, o.recurrence)),
        Err(e) => local(Some(format!(
            "the team's figures are out of reach ({e}); these are this machine's own"
        ))),
    }
}

fn sparkline(per_day: &std::collections::BTreeMap<String, i64>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let days: Vec<i64> = (0..SPARK_DAYS)
        .rev()
        .map(|i| per_day.get(&day_ago(i)).copied().unwrap_or(0))
        .collect();
    let max = days.iter().copied().max().unwrap_or(0);
    days.iter()
        .map(|&n| match n {
            0 => '·',
            _ => BARS[((n * 7) / max.max(1)) as usize],
        })
        .collect()
}

/// The checkout's files (repo-relative), as git lists them (tracked and untracked, not ignored).
fn checkout_files(root: &std::path::Path) -> Option<HashSet<String>> {
    let out = std::process::Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(
        out.stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
    )
}

/// The stale flags of the rules: the glob and evidence checks against the checkout (for the
/// rules of its repository), the rest for all.
fn stale_flags(
    conn: &rusqlite::Connection,
    a: &ReportArgs,
    rules: &[memory::Rule],
    figs: &[ServedFigures],
    since: &str,
) -> anyhow::Result<BTreeMap<String, Vec<stale::Stale>>> {
    let dir = match &a.checkout {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    let checkout = repo::discover(&dir);
    if a.checkout.is_some() && checkout.is_none() {
        anyhow::bail!("--checkout {} is not a git checkout", dir.display());
    }
    // The checkout's files are listed only when some rule is of its repository.
    let files = checkout
        .as_ref()
        .filter(|c| {
            rules
                .iter()
                .any(|r| r.repo.as_deref() == Some(c.key.as_str()))
        })
        .and_then(|c| checkout_files(&c.root));
    let served: BTreeMap<String, i64> =
        figs.iter().map(|f| (f.rule_id.clone(), f.served)).collect();
    let key = checkout.as_ref().map(|c| c.key.as_str());
    let edited = outcomes::edited_paths(conn, since, key.unwrap_or(""))?;
    let window_days = (time::OffsetDateTime::now_utc().date()
        - time::Date::parse(
            since,
            &time::macros::format_description!("[year]-[month]-[day]"),
        )?)
    .whole_days()
        + 1;
    let (here, elsewhere): (Vec<memory::Rule>, Vec<memory::Rule>) = rules
        .iter()
        .cloned()
        .partition(|r| key.is_some() && r.repo.as_deref() == key);
    let mut out = stale::check(
        &here,
        &stale::Context {
            files: files.as_ref(),
            served: &served,
            edited: &edited,
            window_days,
        },
    );
    let none = BTreeMap::new();
    out.extend(stale::check(
        &elsewhere,
        &stale::Context {
            files: None,
            served: &served,
            edited: &none,
            window_days,
        },
    ));
    Ok(out)
}

/// The comments that made an active rule's point again: the rule is real — had the agents been
/// given it on that file?
fn print_said_again(
    rules: &[memory::Rule],
    again: &HashMap<String, Vec<difflore_rules::recurrence::SinceActive>>,
) {
    let mut first = true;
    for r in rules {
        let Some(list) = again.get(&r.id) else {
            continue;
        };
        if first {
            println!("\nsaid again in review since the rule became active:");
            first = false;
        }
        println!("  {} {}", &r.id[..r.id.len().min(8)], r.title);
        for c in list {
            let file = c.path.as_deref().unwrap_or("(no file)");
            let served = match c.served_on_file {
                0 => "never served for that file before: were its agents hooked, are its globs right?".to_string(),
                n => format!("served for that file {n} time(s) before: the agents had it"),
            };
            println!(
                "    - {} {file} {}\n      → {served}",
                c.at.chars().take(10).collect::<String>(),
                c.url.as_deref().unwrap_or("")
            );
        }
    }
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let home = home()?;
    let conn = store::open_for_write(&home)?;
    let since = match &a.since {
        Some(s) => parse_day(s)?,
        None => day_ago(89),
    };
    let here = if a.repo.is_some() || a.all_repos {
        None
    } else {
        repo::discover(&std::env::current_dir()?).map(|r| r.key)
    };
    let scope = a.repo.clone().or(here);
    // Comments imported before a rule became active are matched now too (and, on a logged-in
    // machine, queued for the team).
    crate::import_cmd::recur(&conn, scope.as_deref())?;
    let (source, note, figs, team_recurrence) = figures(&home, &conn, &since, scope.as_deref())?;
    let by_id: HashMap<&str, &ServedFigures> =
        figs.iter().map(|f| (f.rule_id.as_str(), f)).collect();
    let mut rules: Vec<memory::Rule> = memory::list(&conn, None, None)?
        .into_iter()
        .filter(|r| r.status != Status::Rejected)
        .filter(|r| match &scope {
            Some(k) => r.repo.is_none() || r.repo.as_deref() == Some(k.as_str()),
            None => true,
        })
        .collect();
    let served = |id: &str| by_id.get(id).map_or(0, |f| f.served);
    let stale = stale_flags(&conn, &a, &rules, &figs, &since)?;
    // The team's count for its rules; this machine's for its own.
    let mut recurred = difflore_rules::recurrence::counts(&conn, RECURRENCE_DAYS)?;
    for r in rules.iter().filter(|r| r.location == Location::Team) {
        if let Some(t) = team_recurrence.get(&r.id) {
            recurred.insert(r.id.clone(), *t);
        }
    }
    let again = difflore_rules::recurrence::since_active(&conn)?;
    rules.sort_by(|x, y| {
        served(&y.id)
            .cmp(&served(&x.id))
            .then(x.title.cmp(&y.title))
    });
    if a.json {
        let out: Vec<_> = rules
            .iter()
            .map(|r| {
                let f = by_id.get(r.id.as_str());
                json!({
                    "id": r.id, "title": r.title, "statement": r.statement,
                    "status": r.status.as_str(), "location": r.location,
                    "served": f.map_or(0, |f| f.served),
                    "last_served_at": f.and_then(|f| f.last_served_day.clone()),
                    "by_moment": f.map(|f| &f.by_moment), "by_agent": f.map(|f| &f.by_agent),
                    "per_day": f.map(|f| &f.per_day),
                    "stale": stale.get(&r.id).cloned().unwrap_or_default(),
                    "recurrence": recurred.get(&r.id),
                    "said_again_since_active": again.get(&r.id).cloned().unwrap_or_default(),
                })
            })
            .collect();
        return render::json(&json!({
            "schema_version": 1, "source": source, "note": note, "since": since,
            "repo": scope, "rules": out,
        }));
    }
    println!(
        "rules served since {since}{} — {}",
        scope
            .as_deref()
            .map(|k| format!(" in {k}"))
            .unwrap_or_default(),
        if source == "team" {
            "the team's figures"
        } else {
            "this machine's own figures"
        }
    );
    if let Some(n) = &note {
        println!("note: {n}");
    }
    if rules.is_empty() {
        println!("no rules here yet: `difflore import` finds candidates in your review history");
        return Ok(());
    }
    let mut t = render::table(&[
        "ID",
        "STATUS",
        "SERVED",
        "LAST",
        "LAST 30 DAYS",
        "SAID BEFORE→SINCE",
        "TITLE",
    ]);
    for r in &rules {
        let f = by_id.get(r.id.as_str());
        t.add_row(vec![
            // The id's random tail, as `memory` and the hook's answers show it (its prefix is a
            // timestamp that rules made together share).
            difflore_rules::memory::tail_handle(&r.id).to_string(),
            r.status.as_str().to_string(),
            f.map_or(0, |f| f.served).to_string(),
            f.and_then(|f| f.last_served_day.clone())
                .unwrap_or_else(|| "never".into()),
            f.map(|f| sparkline(&f.per_day))
                .unwrap_or_else(|| "·".repeat(SPARK_DAYS as usize)),
            recurred
                .get(&r.id)
                .map(|c| format!("{} → {}", c.before, c.after))
                .unwrap_or_else(|| "-".into()),
            r.title.clone(),
        ]);
    }
    println!("{t}");
    print_said_again(&rules, &again);
    if !stale.is_empty() {
        println!("\nmay be stale (nothing was changed):");
        for r in rules.iter().filter(|r| stale.contains_key(&r.id)) {
            println!("  {} {}", &r.id[..r.id.len().min(8)], r.title);
            for f in &stale[&r.id] {
                println!("    - {}: {}\n      → {}", f.reason, f.detail, f.suggestion);
            }
        }
    }
    let idle = rules
        .iter()
        .filter(|r| r.status == Status::Active && served(&r.id) == 0)
        .count();
    if idle > 0 {
        println!(
            "{idle} active rule(s) were never served in this window: are their globs right (`difflore recall --file PATH`)?"
        );
    }
    Ok(())
}
