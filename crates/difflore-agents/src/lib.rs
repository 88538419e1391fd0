//! `difflore agents install|uninstall|status`: connect difflore's hooks and MCP server to the
//! agents a user has, in each agent's own config files, and undo it exactly.
//!
//! - [`spec`] says what goes where for each agent (events, matchers, timeout units, files).
//! - [`edit`] edits JSON and TOML files without disturbing anything else, or refuses.
//! - [`scripts`] writes and removes Cline's hook scripts (whole files of difflore's own).
//! - `status` reports the state of every agent.
//! - This module plans the changes, applies them (backup first, atomic writes) and keeps a
//!   manifest in `DIFFLORE_HOME/agents.json` of exactly what it added — so `uninstall` removes
//!   that and nothing else.
#![forbid(unsafe_code)]

pub mod edit;
pub mod scripts;
pub mod spec;
mod status;

pub use status::{AgentStatus, ScopeStatus, status};

use edit::{Doc, EditError, File};
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use spec::{Agent, Scope, Wiring};
use std::path::{Path, PathBuf};

/// Where things are: the user's home, the project, the binary and `DIFFLORE_HOME`.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The user's home directory (agents' user-scope files live under it).
    pub home: PathBuf,
    /// The project root (repository root, or the working directory).
    pub project: PathBuf,
    /// The absolute path of the `difflore` binary.
    pub bin: String,
    /// `DIFFLORE_HOME`, only when it is not the default `~/.difflore`.
    pub difflore_home: Option<String>,
    /// Where the manifest and backups live.
    pub state_dir: PathBuf,
}

/// One entry difflore added to a file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub agent: Agent,
    pub scope: Scope,
    pub file: PathBuf,
    pub kind: EntryKind,
    /// Keys to the array (hooks) or to the value (MCP, `version`).
    pub path: Vec<String>,
    /// The exact value added (an array element for hooks).
    pub value: Value,
    /// Containers that did not exist before (removed again when empty).
    #[serde(default)]
    pub created: Vec<Vec<String>>,
    /// The file did not exist before.
    #[serde(default)]
    pub created_file: bool,
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// One element of a hook array.
    Hook,
    /// The MCP server's entry.
    Mcp,
    /// A `version` key the agent's hooks file needs (kept if it was there before).
    Version,
    /// A whole hook script of difflore's own (Cline: one executable per event).
    Script,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub entries: Vec<Entry>,
    /// file → its backup taken before difflore first changed it.
    #[serde(default)]
    pub backups: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error("cannot use {0}: {1}")]
    State(PathBuf, String),
}

impl Manifest {
    fn path(ctx: &Ctx) -> PathBuf {
        ctx.state_dir.join("agents.json")
    }
    pub fn load(ctx: &Ctx) -> Result<Manifest, AgentsError> {
        let p = Manifest::path(ctx);
        match std::fs::read_to_string(&p) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| AgentsError::State(p, e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                schema_version: 1,
                ..Default::default()
            }),
            Err(e) => Err(AgentsError::State(p, e.to_string())),
        }
    }
    fn save(&self, ctx: &Ctx) -> Result<(), AgentsError> {
        let p = Manifest::path(ctx);
        let err = |e: std::io::Error| AgentsError::State(p.clone(), e.to_string());
        std::fs::create_dir_all(&ctx.state_dir).map_err(err)?;
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&p, text + "\n").map_err(err)
    }
}

/// What one command did or would do to one file.
#[derive(Debug, Serialize)]
pub struct FileChange {
    pub file: PathBuf,
    /// Unified diff (empty when nothing changes).
    pub diff: String,
    pub added: usize,
    pub replaced: usize,
    pub removed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn matches_agent(v: &Value, agent: Agent) -> bool {
    match v {
        Value::String(s) => spec::is_our_command(s, agent),
        Value::Object(m) => m.values().any(|x| matches_agent(x, agent)),
        Value::Array(a) => a.iter().any(|x| matches_agent(x, agent)),
        _ => false,
    }
}

/// The entries an (agent, scope) should have, per file.
fn desired(ctx: &Ctx, agent: Agent, scope: Scope) -> Vec<Entry> {
    let cmd = spec::hook_command(&ctx.bin, ctx.difflore_home.as_deref(), agent);
    let hooks_file = agent.hooks_file(&ctx.home, &ctx.project, scope);
    let mut out = Vec::new();
    let entry = |file: &Path, kind: EntryKind, path: Vec<String>, value: Value| Entry {
        agent,
        scope,
        file: file.to_path_buf(),
        kind,
        path,
        value,
        created: Vec::new(),
        created_file: false,
    };
    if matches!(agent, Agent::Cursor | Agent::Copilot) {
        out.push(entry(
            &hooks_file,
            EntryKind::Version,
            vec!["version".into()],
            Value::from(1),
        ));
    }
    for (event, matcher) in agent.hook_events() {
        // Copilot's payloads do not name the event: the command does.
        let cmd = if agent == Agent::Copilot {
            format!("{cmd} --event {event}")
        } else {
            cmd.clone()
        };
        out.push(entry(
            &hooks_file,
            EntryKind::Hook,
            vec!["hooks".into(), event.to_string()],
            agent.hook_entry(&cmd, *matcher),
        ));
    }
    let env: Vec<(String, String)> = ctx
        .difflore_home
        .iter()
        .map(|h| ("DIFFLORE_HOME".to_string(), h.clone()))
        .collect();
    if agent == Agent::Cline && scope == Scope::Project {
        // Cline reads MCP servers from its data directory only: no project file.
        return out;
    }
    let mcp_file = agent.mcp_file(&ctx.home, &ctx.project, scope);
    let key = agent.mcp_key();
    out.push(entry(
        &mcp_file,
        EntryKind::Mcp,
        vec![key.into(), "difflore".into()],
        agent.mcp_entry(&ctx.bin, &env),
    ));
    out
}

/// Applies one desired entry to a loaded file; returns (added, replaced) and records what it
/// created in `e`.
fn apply(f: &mut File, agent: Agent, e: &mut Entry) -> Result<(usize, usize), EditError> {
    let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
    let file = f.path.clone();
    match &mut f.doc {
        Doc::Json { value, .. } => match e.kind {
            EntryKind::Hook => {
                let arr = edit::array_at(&file, value, &path, &mut e.created)?;
                if arr.contains(&e.value) {
                    return Ok((0, 0));
                }
                if let Some(i) = arr.iter().position(|x| matches_agent(x, agent)) {
                    arr[i] = e.value.clone();
                    return Ok((0, 1));
                }
                arr.push(e.value.clone());
                Ok((1, 0))
            }
            _ => {
                let (last, parents) = path.split_last().unwrap_or((&"", &[]));
                let obj = edit::object_at(&file, value, parents, &mut e.created)?;
                match obj.get(*last) {
                    Some(v) if *v == e.value => Ok((0, 0)),
                    Some(_) if e.kind == EntryKind::Version => Ok((0, 0)),
                    Some(_) => {
                        obj.insert(last.to_string(), e.value.clone());
                        Ok((0, 1))
                    }
                    None => {
                        obj.insert(last.to_string(), e.value.clone());
                        e.created.push(e.path.clone());
                        Ok((1, 0))
                    }
                }
            }
        },
        Doc::Toml(doc) => {
            let table = toml_table(&e.value);
            let servers = match doc.get_mut("mcp_servers") {
                Some(item) => item.as_table_mut().ok_or_else(|| {
                    EditError::Shape(file.clone(), "mcp_servers".into(), "a table")
                })?,
                None => {
                    let mut t = toml_edit::Table::new();
                    t.set_implicit(true);
                    doc.insert("mcp_servers", toml_edit::Item::Table(t));
                    e.created.push(vec!["mcp_servers".into()]);
                    doc["mcp_servers"].as_table_mut().ok_or_else(|| {
                        EditError::Shape(file.clone(), "mcp_servers".into(), "a table")
                    })?
                }
            };
            let same = servers
                .get("difflore")
                .and_then(|i| i.as_table())
                .is_some_and(|t| toml_value(t) == e.value);
            if same {
                return Ok((0, 0));
            }
            let existed = servers.contains_key("difflore");
            servers.insert("difflore", toml_edit::Item::Table(table));
            if !existed {
                e.created.push(e.path.clone());
            }
            Ok(if existed { (0, 1) } else { (1, 0) })
        }
    }
}

fn toml_table(v: &Value) -> toml_edit::Table {
    let mut t = toml_edit::Table::new();
    if let Some(c) = v.get("command").and_then(Value::as_str) {
        t.insert("command", toml_edit::value(c));
    }
    let mut args = toml_edit::Array::new();
    for a in v
        .get("args")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(s) = a.as_str() {
            args.push(s);
        }
    }
    t.insert("args", toml_edit::value(args));
    if let Some(env) = v.get("env").and_then(Value::as_object) {
        let mut it = toml_edit::InlineTable::new();
        for (k, x) in env {
            it.insert(k, x.as_str().unwrap_or_default().into());
        }
        t.insert("env", toml_edit::value(it));
    }
    t
}

fn toml_value(t: &toml_edit::Table) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(c) = t.get("command").and_then(|i| i.as_str()) {
        m.insert("command".into(), c.into());
    }
    if let Some(a) = t.get("args").and_then(|i| i.as_array()) {
        m.insert(
            "args".into(),
            a.iter()
                .filter_map(|x| x.as_str())
                .map(Value::from)
                .collect(),
        );
    }
    if let Some(env) = t.get("env").and_then(|i| i.as_inline_table()) {
        let e: serde_json::Map<String, Value> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().into()))
            .collect();
        m.insert("env".into(), Value::Object(e));
    }
    Value::Object(m)
}

fn backup(ctx: &Ctx, m: &mut Manifest, f: &File) -> Result<Option<String>, AgentsError> {
    let key = f.path.display().to_string();
    let (Some(original), None) = (&f.original, m.backups.get(&key)) else {
        return Ok(None);
    };
    let dir = ctx.state_dir.join("backups");
    let err = |e: std::io::Error| AgentsError::State(dir.clone(), e.to_string());
    std::fs::create_dir_all(&dir).map_err(err)?;
    let name = key.trim_start_matches('/').replace('/', "__");
    let dest = dir.join(format!("{}.{}", name, difflore_core::clock::now_ms()));
    std::fs::write(&dest, original).map_err(err)?;
    let dest = dest.display().to_string();
    m.backups.insert(key, dest.clone());
    Ok(Some(dest))
}

fn group_by_file(entries: Vec<Entry>) -> Vec<(PathBuf, Vec<Entry>)> {
    let mut out: Vec<(PathBuf, Vec<Entry>)> = Vec::new();
    for e in entries {
        match out.iter_mut().find(|(f, _)| *f == e.file) {
            Some((_, v)) => v.push(e),
            None => out.push((e.file.clone(), vec![e])),
        }
    }
    out
}

/// Installs (or, with `dry_run`, shows) difflore's entries for one agent and scope.
pub fn install(
    ctx: &Ctx,
    agent: Agent,
    scope: Scope,
    dry_run: bool,
) -> Result<Vec<FileChange>, AgentsError> {
    let mut manifest = Manifest::load(ctx)?;
    let mut changes = Vec::new();
    if agent == Agent::Cline {
        scripts::check(ctx, scope)?;
    }
    // Load and check every file first: nothing is written if any of them is refused.
    let mut plans = Vec::new();
    for (path, entries) in group_by_file(desired(ctx, agent, scope)) {
        let mut f = File::load(&path)?;
        let mut applied = Vec::new();
        let (mut added, mut replaced) = (0, 0);
        for mut e in entries {
            e.created_file = f.original.is_none();
            let (a, r) = apply(&mut f, agent, &mut e)?;
            added += a;
            replaced += r;
            applied.push(e);
        }
        plans.push((f, applied, added, replaced));
    }
    for (f, applied, added, replaced) in plans {
        let old = f.original.clone().unwrap_or_default();
        let diff = edit::diff(&f.path, &old, &f.render());
        let mut change = FileChange {
            file: f.path.clone(),
            diff,
            added,
            replaced,
            removed: 0,
            backup: None,
            note: None,
        };
        if f.changed() && !dry_run {
            change.backup = backup(ctx, &mut manifest, &f)?;
            f.write()?;
            for e in applied {
                // Keep what the first install recorded as created; update the value.
                match manifest.entries.iter_mut().find(|m| {
                    m.file == e.file && m.path == e.path && m.agent == e.agent && m.kind == e.kind
                }) {
                    Some(m) => m.value = e.value,
                    None if added + replaced > 0 => manifest.entries.push(e),
                    None => {}
                }
            }
            manifest.save(ctx)?;
        }
        changes.push(change);
    }
    if agent == Agent::Cline {
        changes.extend(scripts::install(ctx, scope, dry_run, &mut manifest)?);
    }
    Ok(changes)
}

/// Removes exactly what `install` added for one agent and scope (per the manifest).
pub fn uninstall(
    ctx: &Ctx,
    agent: Agent,
    scope: Scope,
    dry_run: bool,
) -> Result<Vec<FileChange>, AgentsError> {
    let mut manifest = Manifest::load(ctx)?;
    let (mine, rest): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut manifest.entries)
        .into_iter()
        .partition(|e| e.agent == agent && e.scope == scope);
    let (script_entries, mine): (Vec<Entry>, Vec<Entry>) =
        mine.into_iter().partition(|e| e.kind == EntryKind::Script);
    let mut changes = scripts::uninstall(&script_entries, dry_run);
    let mut kept = rest;
    for (path, entries) in group_by_file(mine) {
        let mut f = File::load(&path)?;
        let mut removed = 0;
        let mut note = None;
        let created_file = entries.iter().any(|e| e.created_file);
        let mut created: Vec<Vec<String>> = Vec::new();
        for e in &entries {
            created.extend(e.created.iter().cloned());
            let gone = remove_entry(&mut f.doc, e);
            if gone == 0 && e.kind != EntryKind::Version {
                note = Some("an entry was changed since install and was left in place".to_string());
            }
            removed += gone;
        }
        remove_created_containers(&mut f.doc, created);
        let now_empty = match &f.doc {
            Doc::Json { value, .. } => value.is_empty(),
            Doc::Toml(d) => d.to_string().trim().is_empty(),
        };
        let old = f.original.clone().unwrap_or_default();
        let delete = created_file && now_empty;
        let new = if delete { String::new() } else { f.render() };
        let change = FileChange {
            file: path.clone(),
            diff: edit::diff(&path, &old, &new),
            added: 0,
            replaced: 0,
            removed,
            backup: None,
            note,
        };
        if !dry_run {
            if delete {
                std::fs::remove_file(&path).map_err(|e| EditError::Write(path.clone(), e))?;
            } else if new != old {
                f.write()?;
            }
        }
        changes.push(change);
    }
    if !dry_run {
        if kept.is_empty() {
            manifest.backups.clear();
        }
        manifest.entries = std::mem::take(&mut kept);
        manifest.save(ctx)?;
    }
    Ok(changes)
}

/// Takes one recorded entry out of a loaded file, only if it is still exactly what difflore
/// wrote (a `version` key only if difflore created it); returns how many values went.
fn remove_entry(doc: &mut Doc, e: &Entry) -> usize {
    match doc {
        Doc::Json { value, .. } => match e.kind {
            EntryKind::Hook => match edit::get(value, &e.path).cloned() {
                Some(Value::Array(mut a)) => {
                    let before = a.len();
                    a.retain(|x| *x != e.value);
                    let n = before - a.len();
                    edit::set(value, &e.path, Value::Array(a));
                    n
                }
                _ => 0,
            },
            _ => {
                if edit::get(value, &e.path) == Some(&e.value)
                    && (e.kind != EntryKind::Version || e.created.contains(&e.path))
                {
                    edit::remove(value, &e.path);
                    1
                } else {
                    0
                }
            }
        },
        Doc::Toml(doc) => {
            let same = doc
                .get("mcp_servers")
                .and_then(|i| i.get("difflore"))
                .and_then(|i| i.as_table())
                .is_some_and(|t| toml_value(t) == e.value);
            if !same {
                return 0;
            }
            if let Some(t) = doc.get_mut("mcp_servers").and_then(|i| i.as_table_mut()) {
                t.remove("difflore");
            }
            1
        }
    }
}

/// Removes the containers difflore created, deepest first, when they are now empty.
fn remove_created_containers(doc: &mut Doc, mut created: Vec<Vec<String>>) {
    created.sort_by_key(|p| std::cmp::Reverse(p.len()));
    match doc {
        Doc::Json { value, .. } => {
            for c in &created {
                edit::remove_if_empty(value, c);
            }
        }
        Doc::Toml(doc) => {
            if created.iter().any(|c| c == &["mcp_servers".to_string()])
                && doc
                    .get("mcp_servers")
                    .and_then(|i| i.as_table())
                    .is_some_and(|t| t.is_empty())
            {
                doc.remove("mcp_servers");
            }
        }
    }
}
