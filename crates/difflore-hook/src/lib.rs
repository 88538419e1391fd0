//! `difflore hook --agent A`: the agent's hot path. Read one event from stdin within the bounds
//! of DESIGN §9, normalise it, append it to the outbox, serve the rules that apply at this moment
//! ([`serve`]: context, or a deny in gate mode) and answer — in a few milliseconds, and always
//! with exit 0: any failure (bad input, unknown agent, locked or missing database, full disk,
//! read-only home, a panic, a hang past the deadline) becomes the no-op answer plus one line in
//! `logs/hook.log`. A deny is only ever the result of a complete, successful serving step.
//!
//! No async runtime, no `git` process, no network, no socket, no migrations on this path.
//!
//! A step that serves nothing appends its event to the hook's inbox instead of the store
//! ([`capture_only`]). Modules: [`stdin`] (bounded read), [`agent`] (from `difflore-core`: agents, phases, no-op answers), [`normalize`]
//! (agent payload → `hook.event`), [`patch`] (Codex `apply_patch` paths), [`eventid`] (stable
//! UUIDv8 ids), [`serve`] (moments, matching, per-session state, answers).

#![forbid(unsafe_code)]

mod capture_only;
mod cline;
mod copilot;
pub mod eventid;
mod held;
pub mod normalize;
pub mod patch;
pub mod serve;
pub mod stdin;

use agent::Agent;
pub use difflore_core::agent;
use difflore_core::config::{self, Config, ServingMode};
use difflore_core::home::Home;
use difflore_core::outbox::{self, EnqueuePolicy, Enqueued};
use difflore_core::store::{self, StoreError};
use difflore_core::{clock, inbox, logfile, repo, spool};
use difflore_proto::{EventEnvelope, RulesServed, kinds};
use held::{hold, release_held, spool_unopened, spool_unstored, spooled};
use serde_json::Value;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The whole run ends by then, whatever happens (DESIGN §9: ≤ 1 s in every fault case).
pub const WHOLE_RUN: Duration = Duration::from_millis(900);
const LOG: &str = "hook.log";

/// Set once the answer is printed, so the watchdog and the main path never both answer.
static ANSWERED: Mutex<bool> = Mutex::new(false);
/// The event name, once known (Cursor's no-op answer depends on it).
static EVENT_NAME: OnceLock<String> = OnceLock::new();
/// The answer that serves rules, once it is complete; otherwise the no-op is printed.
static REPLY: OnceLock<Value> = OnceLock::new();
/// What happened to the event; returned for tests and the benchmark, not shown to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Captured(Enqueued),
    /// Rules were served (the answer carries them); the event was captured if capture is on.
    Served {
        rules: usize,
        captured: Option<Enqueued>,
    },
    /// Not an event difflore records (Stop, PreCompress, …).
    NotCaptured,
    /// `DIFFLORE_CAPTURE=off` or `capture.enabled = false`.
    Disabled,
    /// The database did not take the event in time; it waits in the spool (logged).
    Spooled(String),
    /// The input was not an event (logged).
    Ignored(String),
    /// An internal failure (logged).
    Failed(String),
}

/// Finds the `--agent` value in raw arguments; never fails (unknown flags are ignored).
pub fn agent_from_args<S: AsRef<str>>(args: &[S]) -> Option<Agent> {
    let mut it = args.iter().map(AsRef::as_ref);
    while let Some(a) = it.next() {
        if a == "--agent" || a == "-a" {
            return it.next().and_then(Agent::parse);
        }
        if let Some(v) = a.strip_prefix("--agent=") {
            return Agent::parse(v);
        }
    }
    None
}

/// `--event NAME`: the event, for agents whose payload does not name it (GitHub Copilot CLI; the
/// installed command passes it).
pub fn event_from_args<S: AsRef<str>>(args: &[S]) -> Option<String> {
    let mut it = args.iter().map(AsRef::as_ref);
    while let Some(a) = it.next() {
        if a == "--event" {
            return it.next().map(str::to_string);
        }
        if let Some(v) = a.strip_prefix("--event=") {
            return Some(v.to_string());
        }
    }
    None
}

/// Set when running as the hook process (not in tests that call [`handle`]): the process exits
/// right after answering, so its database connection is left to the exit (see
/// [`record_and_serve`]).
static AS_PROCESS: OnceLock<()> = OnceLock::new();

/// The event named on the command line (`--event`), if any.
static EVENT_ARG: OnceLock<String> = OnceLock::new();

/// Runs the hook as a process: reads stdin, prints the answer, exits 0. Never returns.
pub fn run_process<S: AsRef<str>>(args: &[S]) -> ! {
    let _ = AS_PROCESS.set(());
    let agent = agent_from_args(args);
    if let Some(e) = event_from_args(args) {
        let _ = EVENT_ARG.set(e);
    }
    let home = Home::from_env().ok();
    std::panic::set_hook(Box::new(|_| {}));
    {
        let home = home.clone();
        let _ = std::thread::Builder::new()
            .name("hook-watchdog".into())
            // It only sleeps, writes a log line and the answer: a small stack starts faster.
            .stack_size(64 * 1024)
            .spawn(move || {
                std::thread::sleep(WHOLE_RUN);
                if let Some(h) = &home {
                    let spooled = spool_unstored(h);
                    logfile::append(
                        h,
                        LOG,
                        "ERROR",
                        &format!(
                            "agent={} gave up after {} ms; answered the no-op{}",
                            agent.map_or("unknown", Agent::as_str),
                            WHOLE_RUN.as_millis(),
                            if spooled > 0 {
                                format!("; {spooled} events spooled")
                            } else {
                                String::new()
                            }
                        ),
                    );
                }
                answer(agent);
                std::process::exit(0);
            });
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let input = stdin::read_stdin();
        handle(agent, home.as_ref(), &input)
    }));
    if let (Err(panic), Some(h)) = (&result, &home) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        logfile::append(h, LOG, "ERROR", &format!("panic: {what}"));
    }
    answer(agent);
    std::process::exit(0);
}

/// Prints the no-op answer once.
fn answer(agent: Option<Agent>) {
    let Ok(mut done) = ANSWERED.lock() else {
        return;
    };
    if *done {
        return;
    }
    *done = true;
    let body = REPLY
        .get()
        .cloned()
        .unwrap_or_else(|| Agent::noop(agent, EVENT_NAME.get().map(String::as_str)));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{body}");
    let _ = out.flush();
}

/// Handles one event read from stdin: everything but the answer. Logs what went wrong.
pub fn handle(agent: Option<Agent>, home: Option<&Home>, input: &stdin::Input) -> Outcome {
    let outcome = capture(agent, home, input);
    if let Some(h) = home {
        let who = format!(
            "agent={} event={}",
            agent.map_or("unknown", Agent::as_str),
            EVENT_NAME.get().map_or("unknown", String::as_str)
        );
        match &outcome {
            Outcome::Ignored(why) => {
                logfile::append(h, LOG, "WARN", &format!("{who} ignored: {why}"))
            }
            Outcome::Failed(why) => logfile::append(h, LOG, "ERROR", &format!("{who} {why}")),
            Outcome::Spooled(why) => logfile::append(h, LOG, "WARN", &format!("{who} {why}")),
            _ => {}
        }
    }
    outcome
}

fn capture(agent: Option<Agent>, home: Option<&Home>, input: &stdin::Input) -> Outcome {
    let Some(agent) = agent else {
        return Outcome::Ignored("missing or unknown --agent".into());
    };
    let end = match input.ending {
        stdin::Ending::Complete(end) => end,
        other => {
            // Cursor's answer depends on the event: recover its name from the raw prefix.
            if let Some(name) = sniff_event_name(&input.bytes) {
                let _ = EVENT_NAME.set(name);
            }
            return Outcome::Ignored(format!(
                "no complete JSON event on stdin ({other:?}, {} bytes)",
                input.total
            ));
        }
    };
    let raw = &input.bytes[..end];
    let v: Value = match serde_json::from_slice(raw) {
        Ok(v @ Value::Object(_)) if agent == Agent::Cline => cline::to_common(v),
        Ok(v @ Value::Object(_)) if agent == Agent::Copilot => {
            copilot::to_common(v, EVENT_ARG.get().map(String::as_str))
        }
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Outcome::Ignored("stdin is JSON but not an object".into()),
        Err(e) => return Outcome::Ignored(format!("invalid JSON: {e}")),
    };
    let Some(event) = v.get("hook_event_name").and_then(Value::as_str) else {
        return Outcome::Ignored("no hook_event_name".into());
    };
    let _ = EVENT_NAME.set(event.to_string());
    let capture_on = config::switch_on("DIFFLORE_CAPTURE");
    let serve_on = config::switch_on("DIFFLORE_SERVE");
    if !capture_on && !serve_on {
        return Outcome::Disabled;
    }
    if agent.phase(event).is_none() {
        return Outcome::NotCaptured;
    }
    let Some(home) = home else {
        return Outcome::Failed("neither DIFFLORE_HOME nor HOME is set".into());
    };
    let cfg = match Config::load(&home.config_path()) {
        Ok(c) => c,
        Err(e) => {
            logfile::append_once(
                home,
                LOG,
                "config",
                "ERROR",
                &format!("config ignored: {e}"),
            );
            Config::default()
        }
    };
    let capture_on = capture_on && cfg.capture.enabled;
    let mode = match (serve_on, cfg.serving.mode) {
        (true, ServingMode::Context) => Some(serve::Mode::Context),
        (true, ServingMode::Gate) => Some(serve::Mode::Gate),
        _ => None,
    };
    if !capture_on && mode.is_none() {
        return Outcome::Disabled;
    }
    let repo = normalize::event_cwd(&v)
        .or_else(|| std::env::current_dir().ok())
        .and_then(|cwd| repo::discover(&cwd));
    let norm = if capture_on {
        normalize::normalize(agent, &v, input.total, repo.as_ref(), cfg.capture.content).map(
            |mut n| {
                // Strings were cut while reading: whatever content was kept is incomplete.
                if input.elided > 0 {
                    n.content = None;
                    n.content_dropped = true;
                }
                n
            },
        )
    } else {
        None
    };
    if norm.is_none() && mode.is_none() {
        return Outcome::NotCaptured;
    }
    let mut norm = norm;
    if norm.is_some()
        && !mode.is_some_and(|m| serve::has_moment(agent, event, &v, m))
        && let Some(outcome) =
            capture_only::record(home, agent, &v, raw, &mut norm, cfg.capture.queue_cap)
    {
        return outcome;
    }
    match record_and_serve(home, agent, &v, raw, norm, mode, repo.as_ref(), &cfg) {
        Ok(o) => o,
        Err(StoreError::TooOld { found, .. }) | Err(StoreError::TooNew { found, .. }) => {
            let msg = format!(
                "database schema version {found} does not match this difflore ({}); events are not captured and rules not served until `difflore init` (or an upgrade) fixes it",
                store::SCHEMA_VERSION
            );
            logfile::append_once(home, LOG, &format!("schema-{found}"), "ERROR", &msg);
            Outcome::NotCaptured
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// One connection and one transaction for the whole step: append the `hook.event`, serve the
/// rules that apply, record what was served and append its `rules.served` (only while capture
/// is on) — one commit, so the hook pays for one write to the WAL. The events go to the store's
/// own inbox table (one page each; folded into the outbox by the next writing command or daemon
/// turn, [`inbox::fold_store`]). Serving runs in a savepoint:
/// when it fails, the event is still recorded and the agent gets the no-op. When the database
/// does not take the event in time (busy past the lock wait, read-only, full, another schema),
/// the event goes to the spool instead, and nothing is served. The answer that serves rules is
/// set only once the commit has recorded it.
#[allow(clippy::too_many_arguments)]
fn record_and_serve(
    home: &Home,
    agent: Agent,
    v: &Value,
    raw: &[u8],
    norm: Option<normalize::HookEvent>,
    mode: Option<serve::Mode>,
    repo: Option<&repo::Repo>,
    cfg: &Config,
) -> Result<Outcome, StoreError> {
    let path = home.db_path();
    let sql = |e| StoreError::from_sqlite(&path, e);
    let now = clock::now_ms();
    let key_copy = spool::read_key(home);
    let conn = match store::open_for_hook(home) {
        Ok(c) => c,
        Err(e) => {
            // Without the key copy (never initialised) there is no stable id: nothing to spool.
            return match (&key_copy, norm) {
                (Some(key), Some(norm)) => {
                    let id = eventid::event_id(key.as_bytes(), agent.as_str(), v, raw);
                    spool_unopened(home, hook_envelope(id, norm, now), e)
                }
                _ => Err(e),
            };
        }
    };
    let key = match key_copy {
        Some(k) => k,
        None => store::setting(&conn, "event_id_key")
            .map_err(sql)?
            .unwrap_or_default(),
    };
    let id = eventid::event_id(key.as_bytes(), agent.as_str(), v, raw);
    let policy = EnqueuePolicy::for_home(home, cfg.capture.queue_cap);
    let hook_env = norm.map(|n| hook_envelope(id, n, now));
    if let Some(env) = &hook_env {
        hold(env);
    }
    let mut tx = match store::write_tx(&conn) {
        Ok(tx) => tx,
        Err(e) => return Ok(spooled(home, &sql(e).to_string())),
    };
    let captured = match &hook_env {
        Some(env) => match inbox::append(&tx, env, policy.cap).map(Enqueued::from) {
            Ok(c) => Some(c),
            Err(e) => {
                drop(tx);
                return Ok(spooled(home, &sql(e).to_string()));
            }
        },
        None => None,
    };
    let mut outcome = match &captured {
        Some(c) => Outcome::Captured(*c),
        None => Outcome::NotCaptured,
    };
    let mut reply = None;
    let mut serve_failed = None;
    if let Some(mode) = mode {
        let ev = serve::Event {
            agent,
            name: v
                .get("hook_event_name")
                .and_then(Value::as_str)
                .unwrap_or(""),
            payload: v,
            repo,
        };
        let recorded = captured.is_some().then_some((key.as_str(), &id, policy));
        match serve_in_savepoint(&mut tx, &ev, mode, cfg, recorded, now) {
            Ok(Some((answer, rules))) => {
                reply = Some(answer);
                outcome = Outcome::Served { rules, captured };
            }
            Ok(None) => {}
            // The savepoint rolled back: the event is still recorded below.
            Err(e) => serve_failed = Some(e),
        }
    }
    if let Err(e) = tx.commit() {
        return Ok(spooled(home, &sql(e).to_string()));
    }
    release_held();
    if let Some(answer) = reply {
        let _ = REPLY.set(answer);
    }
    store::hook_trim_wal(&conn, store::HOOK_WAL_TRIM_FRAMES);
    if AS_PROCESS.get().is_some() {
        // Everything is committed and the process ends in a moment: closing the connection
        // (statements, the WAL index mapping, locks, files — ~0.1 ms) is left to the exit,
        // which releases the same locks and files. SQLite's state on disk is the same either
        // way: the WAL is never checkpointed on a hook's close.
        std::mem::forget(conn);
    }
    match serve_failed {
        Some(e) => Err(sql(e)),
        None => Ok(outcome),
    }
}

/// Serves the rules for the event inside a savepoint of the hook's transaction and, when the
/// event was captured (`recorded`: the event key, its id, the enqueue policy), appends the
/// `rules.served` of what was served. Returns the answer and how many rules it names; on an
/// error the savepoint is rolled back and nothing of the serving step stays.
fn serve_in_savepoint(
    tx: &mut rusqlite::Transaction<'_>,
    ev: &serve::Event<'_>,
    mode: serve::Mode,
    cfg: &Config,
    recorded: Option<(&str, &uuid::Uuid, EnqueuePolicy)>,
    now: i64,
) -> rusqlite::Result<Option<(Value, usize)>> {
    let sp = tx.savepoint()?;
    let Some(s) = serve::serve(&sp, ev, mode, cfg.serving.token_budget, now)? else {
        sp.commit()?;
        return Ok(None);
    };
    // A session-start summary names no rule: nothing to record. The serving figures go with
    // the `rules.served` (applied when the inbox is folded), or at once when capture is off.
    let counts = s.counts(ev.agent, ev.repo, now);
    match recorded {
        Some((key, id, policy)) if !s.rule_ids.is_empty() => {
            let env = served_envelope(key, id, ev, mode, &s, now);
            inbox::append_served(&sp, &env, &counts, policy.cap)?;
        }
        _ => counts.apply(&sp)?,
    }
    sp.commit()?;
    Ok(Some((s.reply, s.rule_ids.len())))
}

/// The `rules.served` envelope of what was served for the event `id`.
fn served_envelope(
    key: &str,
    id: &uuid::Uuid,
    ev: &serve::Event<'_>,
    mode: serve::Mode,
    s: &serve::Served,
    now: i64,
) -> EventEnvelope {
    let served = RulesServed {
        agent: ev.agent.as_str().into(),
        event: Some(ev.name.into()),
        session: ev
            .payload
            .get("session_id")
            .and_then(Value::as_str)
            .map(|s| difflore_core::redact::prefix_at_most(s, normalize::NAME_MAX).to_string()),
        repo: ev.repo.map(|r| r.key.clone()),
        file: s.files.first().cloned(),
        files: Some(s.files.clone()),
        rule_ids: s.rule_ids.clone(),
        mode: mode.as_str().into(),
        moment: Some(s.moment.into()),
        tool: None,
    };
    let served_id = eventid::derived_id(key.as_bytes(), id, kinds::RULES_SERVED);
    outbox::served_envelope(served_id.to_string(), now, &served)
}

/// Payloads the hook stores stay this far below the server's limit, so that nothing it stores
/// can be refused for its size.
const PAYLOAD_BUDGET: usize = difflore_proto::MAX_PAYLOAD_BYTES - 2048;

/// The `hook.event` envelope of a normalised event, always within [`PAYLOAD_BUDGET`]: content
/// goes first (`content_dropped`), then files from the end (`files_dropped`).
fn hook_envelope(id: uuid::Uuid, mut norm: normalize::HookEvent, now: i64) -> EventEnvelope {
    let size = |n: &normalize::HookEvent| serde_json::to_vec(n).map_or(usize::MAX, |b| b.len());
    if size(&norm) <= PAYLOAD_BUDGET {
        return envelope_of(id, &norm, now);
    }
    if norm.content.take().is_some() {
        norm.content_dropped = true;
    }
    while size(&norm) > PAYLOAD_BUDGET && norm.files.pop().is_some() {
        norm.files_dropped += 1;
    }
    envelope_of(id, &norm, now)
}

/// The envelope of a normalised event that fits the budget.
fn envelope_of(id: uuid::Uuid, norm: &normalize::HookEvent, now: i64) -> EventEnvelope {
    let mut payload = serde_json::to_value(norm).unwrap_or_default();
    difflore_proto::replace_nul(&mut payload);
    EventEnvelope {
        id: id.to_string(),
        kind: kinds::HOOK_EVENT.into(),
        occurred_at: clock::rfc3339(now),
        payload,
    }
}

/// Finds `"hook_event_name":"<name>"` in raw (possibly truncated) bytes.
fn sniff_event_name(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    let at = text.find("\"hook_event_name\"")?;
    let rest = text[at + 17..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (!name.is_empty() && rest[name.len()..].starts_with('"')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_flag_is_found_anywhere() {
        assert_eq!(agent_from_args(&["--agent", "codex"]), Some(Agent::Codex));
        assert_eq!(
            agent_from_args(&["--bogus", "--agent=gemini"]),
            Some(Agent::Gemini)
        );
        assert_eq!(agent_from_args(&["--agent", "vim"]), None);
        assert_eq!(agent_from_args(&["--agent"]), None);
        assert_eq!(agent_from_args::<&str>(&[]), None);
    }

    #[test]
    fn event_name_sniffed_from_truncated_input() {
        let raw =
            br#"{"conversation_id":"c","hook_event_name": "beforeShellExecution","command":"ls"#;
        assert_eq!(
            sniff_event_name(raw).as_deref(),
            Some("beforeShellExecution")
        );
        assert_eq!(sniff_event_name(b"garbage"), None);
    }
}
