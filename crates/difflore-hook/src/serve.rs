//! Serving rules on the hook path: which moment an agent event is (the read of a file, a prompt,
//! right after an edit, a session start, or — in gate mode — an edit about to happen), which
//! active rules apply (the matching engine), what the agent has already been told this session
//! (`served`, `session_edits`), and the answer in the agent's own format.
//!
//! What reaches a model *before* it edits (fixtures README): context on the read of the file,
//! on the prompt and at session start, and a deny of the edit. Context on the `PreToolUse` of an
//! edit arrives after the edit ran, and Gemini ignores context on `BeforeTool`, so edits about to
//! happen get nothing in `context` mode; in `gate` mode the first edit of a file governed by
//! `enforce` rules is denied once per session with the rules as the reason. Nothing is ever
//! served on `Stop` / `AfterAgent` / `SessionEnd` (those make agents loop) nor for Cursor,
//! whose hooks cannot carry context.

use crate::agent::{Agent, Phase, ToolKind};
use crate::normalize::{event_cwd, named_files};
use difflore_core::outcomes::{self, ServedCounts};
use difflore_core::redact::prefix_at_most;
use difflore_core::repo::{self, Repo};
use difflore_rules::matching::{self, Match, Query};
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::collections::HashSet;

/// Changed text kept for relevance.
const TEXT_MAX: usize = 16 * 1024;
/// Served-state rows older than this are forgotten (at session starts).
const STATE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// `serving.mode` once the kill switches are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Context,
    Gate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Context => "context",
            Mode::Gate => "gate",
        }
    }
}

/// The moment an event is, with what matching needs.
#[derive(Debug, PartialEq)]
enum Moment {
    SessionStart,
    Prompt { text: String, paths: Vec<String> },
    Read { paths: Vec<String> },
    AfterEdit { paths: Vec<String> },
    BeforeEdit { paths: Vec<String> },
}

impl Moment {
    fn name(&self) -> &'static str {
        match self {
            Moment::SessionStart => "session_start",
            Moment::Prompt { .. } => "prompt",
            Moment::Read { .. } => "read",
            Moment::AfterEdit { .. } => "after_edit",
            Moment::BeforeEdit { .. } => "gate",
        }
    }
}

/// What was served: the agent's answer and what to record.
#[derive(Debug)]
pub struct Served {
    pub reply: Value,
    pub rule_ids: Vec<String>,
    pub files: Vec<String>,
    /// (file, rule id): which rule was served for which file.
    pub pairs: Vec<(String, String)>,
    pub moment: &'static str,
}

impl Served {
    /// What this serving adds to the machine's serving figures.
    pub fn counts(&self, agent: Agent, repo: Option<&Repo>, now: i64) -> ServedCounts {
        ServedCounts {
            at: now,
            agent: agent.as_str().into(),
            repo: repo.map(|r| r.key.clone()).unwrap_or_default(),
            moment: self.moment.into(),
            rule_ids: self.rule_ids.clone(),
            pairs: self.pairs.clone(),
        }
    }
}

/// Files a shell command plainly reads (`cat F`, `sed -n 1,80p F`, `head -n 20 F`, `nl -ba F`…):
/// only simple commands, so a path is never guessed out of a pipeline.
pub fn shell_reads(cmd: &str) -> Vec<String> {
    let cmd = cmd.trim();
    let inner = ["bash -lc ", "bash -c ", "sh -c ", "zsh -lc "]
        .iter()
        .find_map(|p| cmd.strip_prefix(p))
        .map(|r| r.trim().trim_matches(|c| c == '\'' || c == '"'))
        .unwrap_or(cmd);
    if inner.contains(['|', ';', '&', '>', '<', '`', '$']) {
        return Vec::new();
    }
    let mut words = inner.split_whitespace();
    let Some(prog) = words.next() else {
        return Vec::new();
    };
    if !matches!(
        prog,
        "cat" | "head" | "tail" | "sed" | "nl" | "less" | "bat" | "more"
    ) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut skip_next = false;
    for w in words {
        let w = w.trim_matches(|c| c == '\'' || c == '"');
        if skip_next {
            skip_next = false;
            continue;
        }
        if w.starts_with('-') {
            skip_next = matches!(w, "-n" | "-c" | "-e");
            continue;
        }
        // sed's script (`1,80p`) is not a file.
        if prog == "sed" && !w.contains('/') && !w.contains('.') {
            continue;
        }
        out.push(w.to_string());
    }
    out
}

/// Paths named in a prompt: words that look like repo paths (a `/` or a file extension).
fn prompt_paths(prompt: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in
        prompt.split(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | ',' | '(' | ')'))
    {
        let w = w
            .trim_end_matches(['.', ':', ';', '!', '?'])
            .trim_start_matches("./");
        let looks = w.contains('/')
            || w.rsplit_once('.').is_some_and(|(stem, ext)| {
                stem.len() >= 2
                    && (1..=5).contains(&ext.len())
                    && ext.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if looks && !w.contains("://") && w.len() < 256 && !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
        if out.len() >= 8 {
            break;
        }
    }
    out
}

/// Whether anything can be served on `event` (from the event alone, before any database).
pub fn has_moment(agent: Agent, event: &str, v: &Value, mode: Mode) -> bool {
    moment(agent, event, v, mode).is_some()
}
/// The moment `event` is for this agent, or `None` when nothing is served on it.
fn moment(agent: Agent, event: &str, v: &Value, mode: Mode) -> Option<Moment> {
    if agent == Agent::Cursor {
        return None;
    }
    let phase = agent.phase(event)?;
    let tool = v.get("tool_name").and_then(Value::as_str).unwrap_or("");
    let kind = ToolKind::of(tool);
    let input = v.get("tool_input").cloned().unwrap_or(Value::Null);
    let s = |k: &str| input.get(k).and_then(Value::as_str).unwrap_or("");
    let files = || named_files(agent, event, v, Some(kind));
    match phase {
        Phase::SessionStart => Some(Moment::SessionStart),
        Phase::Prompt => {
            let text = v.get("prompt").and_then(Value::as_str)?;
            Some(Moment::Prompt {
                text: prefix_at_most(text, TEXT_MAX).to_string(),
                paths: prompt_paths(text),
            })
        }
        Phase::ToolPost => match kind {
            ToolKind::Read => Some(Moment::Read { paths: files() }),
            ToolKind::Shell if matches!(agent, Agent::Codex | Agent::QwenCode | Agent::Copilot) => {
                let paths = shell_reads(s("command"));
                (!paths.is_empty()).then_some(Moment::Read { paths })
            }
            ToolKind::Edit | ToolKind::Write => Some(Moment::AfterEdit { paths: files() }),
            _ => None,
        },
        // Cline's `cancel` aborts the whole task, not the tool: no gate there.
        Phase::ToolPre if mode == Mode::Gate && agent != Agent::Cline => match kind {
            ToolKind::Edit | ToolKind::Write => Some(Moment::BeforeEdit { paths: files() }),
            ToolKind::Shell if s("command").contains("*** Begin Patch") => {
                Some(Moment::BeforeEdit { paths: files() })
            }
            _ => None,
        },
        _ => None,
    }
}

/// The agent event being answered.
pub struct Event<'a> {
    pub agent: Agent,
    /// `hook_event_name`.
    pub name: &'a str,
    /// The agent's payload.
    pub payload: &'a Value,
    /// The repository of the event's working directory.
    pub repo: Option<&'a Repo>,
}

/// Serves the rules for one agent event, recording what was shown to the session. `None` =
/// answer the no-op. Inside the caller's open transaction when there is one (the hook's), else
/// in its own. The serving figures ([`Served::counts`]) are the caller's to record.
pub fn serve(
    conn: &Connection,
    ev: &Event<'_>,
    mode: Mode,
    budget: usize,
    now: i64,
) -> rusqlite::Result<Option<Served>> {
    let (agent, event, v, repo) = (ev.agent, ev.name, ev.payload, ev.repo);
    let Some(m) = moment(agent, event, v, mode) else {
        return Ok(None);
    };
    let session = v
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let key = repo.map(|r| r.key.as_str());
    let cwd = event_cwd(v).unwrap_or_default();
    let rel = |paths: &[String]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in paths {
            if let Some(r) = repo.and_then(|r| repo::relative_path(&r.root, &cwd, p))
                && !out.contains(&r)
            {
                out.push(r);
            }
        }
        out
    };
    let st = State {
        conn,
        session: &session,
        now,
    };
    let tx = difflore_core::store::write_tx_unless_open(conn)?;
    let served = match &m {
        Moment::SessionStart => session_summary(conn, key, now)?.map(|text| Served {
            reply: context(agent, event, &text),
            rule_ids: Vec::new(),
            files: Vec::new(),
            pairs: Vec::new(),
            moment: m.name(),
        }),
        Moment::Read { paths } => {
            let files = rel(paths);
            let groups = st.fresh_for_files(key, &files, budget, false)?;
            render(agent, event, &m, groups, |f| {
                format!("difflore — team rules for {f} (from past code review):")
            })
        }
        Moment::AfterEdit { paths } => {
            let files = rel(paths);
            for f in &files {
                st.mark_edited(f)?;
                outcomes::count_edit(conn, now, agent.as_str(), key.unwrap_or(""), f)?;
            }
            // Every rule governing the file applies to a self-review: the file, not the wording
            // of the change, decides.
            let groups = st.fresh_for_files(key, &files, budget, false)?;
            render(agent, event, &m, groups, |f| {
                format!(
                    "difflore — this edit touched {f}; check it against the team's rules for that file:"
                )
            })
        }
        Moment::Prompt { text, paths } => {
            let files = rel(paths);
            let groups = prompt_groups(&st, key, &files, text, budget)?;
            render(agent, event, &m, groups, |f| {
                if f.is_empty() {
                    "difflore — team rules about what this prompt asks (from past code review):"
                        .to_string()
                } else {
                    format!("difflore — team rules for {f}, which this prompt names:")
                }
            })
        }
        Moment::BeforeEdit { paths } => {
            let files = rel(paths);
            let groups = st.fresh_for_files(key, &files, budget, true)?;
            hold_back(agent, event, &m, groups)
        }
    };
    if let Some(tx) = tx {
        tx.commit()?;
    }
    Ok(served)
}

type Groups = Vec<(String, Vec<Match>)>;

/// A prompt: the rules of the files it names, then those about what it asks (not yet served in
/// this session), within the budget.
fn prompt_groups(
    st: &State<'_>,
    key: Option<&str>,
    files: &[String],
    text: &str,
    budget: usize,
) -> rusqlite::Result<Groups> {
    let mut groups = st.fresh_for_files(key, files, budget, false)?;
    let spent: usize = groups.iter().flat_map(|(_, r)| r).map(Match::tokens).sum();
    let mut q = Query::new(key).text(text);
    q.token_budget = budget.saturating_sub(spent);
    let shown: HashSet<String> = groups
        .iter()
        .flat_map(|(_, r)| r.iter().map(|m| m.id.clone()))
        .collect();
    let topic: Vec<Match> = matching::match_rules(st.conn, &q)?
        .into_iter()
        .filter(|m| !shown.contains(&m.id))
        .collect();
    let topic = st.keep_new("", "before", topic)?;
    if !topic.is_empty() {
        groups.push((String::new(), topic));
    }
    Ok(groups)
}

/// Gate mode before an edit: a deny naming the enforced rules, once per file and session.
fn hold_back(agent: Agent, event: &str, m: &Moment, groups: Groups) -> Option<Served> {
    if groups.is_empty() {
        return None;
    }
    let text = render_text(&groups, |f| {
        format!("Team rules (enforced) for {f}, from past code review:")
    });
    let reason = format!(
        "difflore held this edit back once so that the team's rules are in view; it will not hold back this file again in this session. Apply them and retry the edit.\n{text}"
    );
    Some(Served {
        reply: deny(agent, event, &reason),
        rule_ids: ids_of(&groups),
        files: groups.iter().map(|(f, _)| f.clone()).collect(),
        pairs: pairs_of(&groups),
        moment: m.name(),
    })
}

fn pairs_of(groups: &Groups) -> Vec<(String, String)> {
    groups
        .iter()
        .filter(|(f, _)| !f.is_empty())
        .flat_map(|(f, r)| r.iter().map(|m| (f.clone(), m.id.clone())))
        .collect()
}

fn ids_of(groups: &Groups) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for m in groups.iter().flat_map(|(_, r)| r) {
        if !ids.contains(&m.id) {
            ids.push(m.id.clone());
        }
    }
    ids
}

fn render(
    agent: Agent,
    event: &str,
    m: &Moment,
    groups: Groups,
    heading: impl Fn(&str) -> String,
) -> Option<Served> {
    if groups.is_empty() {
        return None;
    }
    let text = render_text(&groups, heading);
    Some(Served {
        reply: context(agent, event, &text),
        rule_ids: ids_of(&groups),
        files: groups
            .iter()
            .map(|(f, _)| f.clone())
            .filter(|f| !f.is_empty())
            .collect(),
        pairs: pairs_of(&groups),
        moment: m.name(),
    })
}

/// Compact text: per file a heading, then per rule its statement, scope, one evidence link and
/// its id prefix.
fn render_text(groups: &Groups, heading: impl Fn(&str) -> String) -> String {
    let mut out = Vec::new();
    for (file, rules) in groups {
        out.push(heading(file));
        for r in rules {
            let mut tail = vec![match (&r.matched_glob, r.repo.is_none()) {
                (Some(g), false) => g.clone(),
                (Some(g), true) => format!("{g}, all repositories"),
                (None, true) => "all repositories".into(),
                (None, false) => "this repository".into(),
            }];
            // The random tail of the id (its prefix is a timestamp rules made together share);
            // `difflore memory show` and MCP `get_rule` take it.
            tail.push(format!(
                "rule {}",
                difflore_rules::memory::tail_handle(&r.id)
            ));
            if let Some(u) = &r.evidence_url {
                tail.push(u.clone());
            }
            out.push(format!("- {} ({})", r.statement.trim(), tail.join("; ")));
        }
    }
    out.join("\n")
}

/// Context in the agent's format (Claude Code and Codex need the firing event's name; Cline
/// takes `contextModification`).
fn context(agent: Agent, event: &str, text: &str) -> Value {
    match agent {
        Agent::Cline => return json!({"cancel": false, "contextModification": text}),
        Agent::Copilot => return json!({"additionalContext": text}),
        _ => {}
    }
    json!({"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}})
}

/// A deny of the tool call about to run, in the agent's format.
fn deny(agent: Agent, event: &str, reason: &str) -> Value {
    match agent {
        Agent::Gemini => json!({"decision": "deny", "reason": reason}),
        Agent::Copilot => json!({"permissionDecision": "deny", "permissionDecisionReason": reason}),
        _ => json!({"hookSpecificOutput": {
            "hookEventName": event,
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }}),
    }
}

/// The session-start summary: active rules in scope, and how many became active since the last
/// session started here.
fn session_summary(
    conn: &Connection,
    key: Option<&str>,
    now: i64,
) -> rusqlite::Result<Option<String>> {
    let scope = key.unwrap_or("");
    conn.execute("DELETE FROM served WHERE at < ?1", [now - STATE_TTL_MS])?;
    conn.execute(
        "DELETE FROM session_edits WHERE at < ?1",
        [now - STATE_TTL_MS],
    )?;
    let last: Option<i64> = conn
        .query_row(
            "SELECT last_at FROM session_starts WHERE repo = ?1",
            [scope],
            |r| r.get(0),
        )
        .ok();
    conn.execute(
        "INSERT INTO session_starts (repo, last_at) VALUES (?1, ?2)
         ON CONFLICT (repo) DO UPDATE SET last_at = excluded.last_at",
        params![scope, now],
    )?;
    let active: i64 = conn.query_row(
        "SELECT count(*) FROM rules WHERE status = 'active' AND (repo = ?1 OR repo IS NULL)",
        [scope],
        |r| r.get(0),
    )?;
    if active == 0 {
        return Ok(None);
    }
    let new: i64 = match last {
        Some(t) => conn.query_row(
            "SELECT count(DISTINCT a.rule_id) FROM rule_audit a JOIN rules r ON r.id = a.rule_id
             WHERE a.to_status = 'active' AND a.at > ?2 AND r.status = 'active' AND (r.repo = ?1 OR r.repo IS NULL)",
            params![scope, t],
            |r| r.get(0),
        )?,
        None => 0,
    };
    let plural = if active == 1 { "" } else { "s" };
    let since = match (last, new) {
        (Some(_), n) if n > 0 => format!(", {n} new since your last session"),
        _ => String::new(),
    };
    Ok(Some(format!(
        "difflore: {active} active team rule{plural} from past code review apply here{since}. They are shown when you read or edit the files they govern; follow them."
    )))
}

/// The served-state of one session.
struct State<'a> {
    conn: &'a Connection,
    session: &'a str,
    now: i64,
}

impl State<'_> {
    fn mark_edited(&self, path: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO session_edits (session, path, at) VALUES (?1, ?2, ?3)",
            params![self.session, path, self.now],
        )?;
        Ok(())
    }

    fn edited(&self, path: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM session_edits WHERE session = ?1 AND path = ?2")?
            .exists(params![self.session, path])
    }

    /// The rules not yet shown for `path` at this `stage`, recorded as shown now.
    fn keep_new(&self, path: &str, stage: &str, rules: Vec<Match>) -> rusqlite::Result<Vec<Match>> {
        let mut ins = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO served (session, path, rule_id, stage, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut out = Vec::new();
        for r in rules {
            if ins.execute(params![self.session, path, r.id, stage, self.now])? == 1 {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Per file, the applicable rules not yet shown at this stage; one budget across files.
    fn fresh_for_files(
        &self,
        key: Option<&str>,
        files: &[String],
        budget: usize,
        gate: bool,
    ) -> rusqlite::Result<Groups> {
        let mut left = budget;
        let mut groups = Vec::new();
        for f in files.iter().take(8) {
            let mut q = Query::new(key).path(f);
            q.token_budget = left;
            q.enforce_only = gate;
            let found = matching::match_rules(self.conn, &q)?;
            if found.is_empty() {
                continue;
            }
            let stage = if gate {
                "deny"
            } else if self.edited(f)? {
                "after"
            } else {
                "before"
            };
            let fresh = self.keep_new(f, stage, found)?;
            left = left.saturating_sub(fresh.iter().map(Match::tokens).sum());
            if !fresh.is_empty() {
                groups.push((f.clone(), fresh));
            }
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_shell_reads_only() {
        assert_eq!(shell_reads("cat src/billing.rs"), vec!["src/billing.rs"]);
        assert_eq!(shell_reads("sed -n '1,80p' src/a.rs"), vec!["src/a.rs"]);
        assert_eq!(
            shell_reads("bash -lc 'head -n 20 README.md'"),
            vec!["README.md"]
        );
        assert!(shell_reads("cat a.rs | grep x").is_empty());
        assert!(shell_reads("cargo test").is_empty());
        assert!(shell_reads("cat $(ls)").is_empty());
    }

    #[test]
    fn paths_named_in_prompts() {
        assert_eq!(
            prompt_paths("Use Money instead of f64 in src/billing.rs and add a changelog entry."),
            vec!["src/billing.rs"]
        );
        assert_eq!(
            prompt_paths("fix `Cargo.toml`, see https://x.io/a.html"),
            vec!["Cargo.toml"]
        );
        assert!(prompt_paths("make it faster, e.g. by caching").is_empty());
    }
}
