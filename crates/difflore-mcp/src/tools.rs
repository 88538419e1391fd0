//! What the MCP tools do, free of any MCP library: search and read active rules with the same
//! engine, scoping and kill switch as the hooks, and take an agent's proposal as a *pending*
//! candidate — rate-limited per session and per day; nothing here can activate, reject, edit or
//! delete a rule. Every answer that carries rules is recorded as a `rules.served` event (mode
//! `mcp`) while capture is on.

use difflore_core::config::{self, Config};
use difflore_core::home::Home;
use difflore_core::outbox::{self, EnqueuePolicy, Outbox};
use difflore_core::repo::{self, Repo};
use difflore_core::{clock, store};
use difflore_proto::RulesServed;
use difflore_rules::matching::{self, Match, Query};
use difflore_rules::memory::{self, MemoryError, Proposed};
use rusqlite::Connection;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;

/// Proposals one server process (one agent session) may make.
pub const PROPOSALS_PER_SESSION: usize = 5;
/// Proposals all agents together may make in 24 hours.
pub const PROPOSALS_PER_DAY: i64 = 20;
const MAX_TOP_K: u32 = 20;
const MAX_PATHS: usize = 50;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words describing the change or the question, e.g. "money rounding".
    pub query: String,
    /// A file the rules should govern (repo-relative or absolute); `file` is accepted too.
    #[serde(default, alias = "file")]
    #[schemars(with = "String")]
    pub path: Option<String>,
    /// How many rules at most (1–20, default 5).
    #[serde(default)]
    #[schemars(with = "u32", range(min = 1, max = 20))]
    pub top_k: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilesParams {
    /// Files (repo-relative or absolute), at most 50.
    pub paths: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    /// The rule id or a unique prefix of at least 4 hex digits.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeParams {
    /// A short name for the rule.
    pub title: String,
    /// The rule as an imperative sentence, e.g. "Use Money instead of f64 for amounts."
    pub statement: String,
    /// Repo-relative globs of the files it governs (default: all files).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub globs: Option<Vec<String>>,
    /// Why the team wants it.
    #[serde(default)]
    #[schemars(with = "String")]
    pub rationale: Option<String>,
}

/// A rule as search results show it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleHit {
    pub id: String,
    pub title: String,
    pub statement: String,
    pub globs: Vec<String>,
    /// The repo key, or "global".
    pub scope: String,
    pub severity: String,
    pub score: f64,
    /// Why it applies.
    pub why: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub evidence_url: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResult {
    pub rules: Vec<RuleHit>,
    /// Set when serving is switched off or the path lies outside the repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FileRules {
    pub path: String,
    pub rules: Vec<RuleHit>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FilesResult {
    pub files: Vec<FileRules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EvidenceItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i64")]
    pub line: Option<i64>,
    pub excerpt: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleDetail {
    pub id: String,
    pub title: String,
    pub statement: String,
    pub status: String,
    pub severity: String,
    pub globs: Vec<String>,
    pub scope: String,
    pub confidence: f64,
    pub origin: String,
    pub evidence: Vec<EvidenceItem>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProposalResult {
    pub id: String,
    /// Always "pending" for a new proposal: a person decides.
    pub status: String,
    /// True when the same statement already was a rule here.
    pub existing: bool,
    pub message: String,
}

/// A tool failure the agent should read (bad arguments, limits, unknown ids).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for ToolError {
    fn from(e: rusqlite::Error) -> Self {
        ToolError::Internal(e.to_string())
    }
}

impl From<MemoryError> for ToolError {
    fn from(e: MemoryError) -> Self {
        match e {
            MemoryError::NotFound(_) => ToolError::NotFound(e.to_string()),
            MemoryError::Ambiguous { .. } | MemoryError::Invalid(_) => {
                ToolError::Invalid(e.to_string())
            }
            MemoryError::Db(d) => ToolError::Internal(d.to_string()),
        }
    }
}

/// The tools over one store, for one session (one server process).
pub struct Tools {
    home: Home,
    conn: Mutex<Connection>,
    repo: Option<Repo>,
    cwd: PathBuf,
    session: String,
    proposals: Mutex<usize>,
}

fn hit(m: Match) -> RuleHit {
    RuleHit {
        scope: m.repo.clone().unwrap_or_else(|| "global".into()),
        id: m.id,
        title: m.title,
        statement: m.statement,
        globs: m.globs,
        severity: m.severity.to_string(),
        score: m.score,
        why: m.why,
        evidence_url: m.evidence_url,
    }
}

impl Tools {
    /// Opens (and if needed creates or migrates) the store; the repo is the one of `cwd`.
    pub fn open(home: Home, cwd: PathBuf) -> Result<Tools, store::StoreError> {
        let conn = store::open_for_write(&home)?;
        let repo = repo::discover(&cwd);
        Ok(Tools {
            home,
            conn: Mutex::new(conn),
            repo,
            cwd,
            session: uuid::Uuid::now_v7().to_string(),
            proposals: Mutex::new(0),
        })
    }

    pub fn repo_key(&self) -> Option<&str> {
        self.repo.as_ref().map(|r| r.key.as_str())
    }

    fn config(&self) -> Config {
        Config::load(&self.home.config_path()).unwrap_or_default()
    }

    /// `None` when serving is on; else why it is off.
    fn serving_off(&self) -> Option<String> {
        if !config::switch_on("DIFFLORE_SERVE") {
            return Some("serving is switched off (DIFFLORE_SERVE)".into());
        }
        (self.config().serving.mode == difflore_core::config::ServingMode::Off)
            .then(|| "serving is switched off (serving.mode = off)".into())
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ToolError>,
    ) -> Result<T, ToolError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| ToolError::Internal("the store is unavailable".into()))?;
        f(&conn)
    }

    /// A path as the agent gave it → repo-relative, or `None` outside the repository.
    fn relative(&self, p: &str) -> Option<String> {
        let r = self.repo.as_ref()?;
        repo::relative_path(&r.root, &self.cwd, p)
    }

    /// Counts what an answer served in this machine's daily totals, and records it as a
    /// `rules.served` event while capture is on (failures only logged).
    fn record(&self, conn: &Connection, tool: &str, file: Option<&str>, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let now = clock::now_ms();
        let repo = self.repo_key().unwrap_or("").to_string();
        if let Err(e) = difflore_core::outcomes::count_served(conn, now, "mcp", &repo, "mcp", &ids)
        {
            eprintln!("difflore mcp: could not count rules served: {e}");
        }
        let cfg = self.config();
        if !cfg.capture_on() {
            return;
        }
        let served = RulesServed {
            agent: "mcp".into(),
            event: None,
            session: Some(self.session.clone()),
            repo: self.repo_key().map(str::to_string),
            file: file.map(str::to_string),
            files: None,
            rule_ids: ids,
            mode: "mcp".into(),
            moment: None,
            tool: Some(tool.into()),
        };
        let env = outbox::served_envelope(uuid::Uuid::now_v7().to_string(), now, &served);
        let policy = EnqueuePolicy::for_home(&self.home, cfg.capture.queue_cap);
        if let Err(e) = Outbox::new(conn).enqueue(&env, policy, now) {
            eprintln!("difflore mcp: could not record rules.served: {e}");
        }
    }

    pub fn search_rules(&self, p: SearchParams) -> Result<SearchResult, ToolError> {
        let query = p.query.trim();
        if query.is_empty() || query.chars().count() > 2000 {
            return Err(ToolError::Invalid("query must be 1–2000 characters".into()));
        }
        let top_k = p.top_k.unwrap_or(5);
        if !(1..=MAX_TOP_K).contains(&top_k) {
            return Err(ToolError::Invalid(format!("top_k must be 1–{MAX_TOP_K}")));
        }
        if let Some(why) = self.serving_off() {
            return Ok(SearchResult {
                rules: vec![],
                note: Some(why),
            });
        }
        let key = self.repo_key();
        let file: Option<String> = match p.path.as_deref() {
            Some(given) => match self.relative(given) {
                Some(r) => Some(r),
                None => {
                    return Ok(SearchResult {
                        rules: vec![],
                        note: Some(format!(
                            "{given} is not inside this repository; no rules govern it"
                        )),
                    });
                }
            },
            None => None,
        };
        self.with_conn(|conn| {
            let mut by_text = Query::new(key).text(query);
            by_text.top_k = MAX_TOP_K as usize;
            let text_hits = matching::match_rules(conn, &by_text)?;
            let mut hits: Vec<Match> = match &file {
                // With a file: the rules governing it, those the query is about first.
                Some(path) => {
                    let mut by_path = Query::new(key).path(path);
                    by_path.top_k = MAX_TOP_K as usize;
                    let governing = matching::match_rules(conn, &by_path)?;
                    let (mut both, rest): (Vec<Match>, Vec<Match>) = governing
                        .into_iter()
                        .partition(|g| text_hits.iter().any(|t| t.id == g.id));
                    both.extend(rest);
                    let globless: Vec<Match> = text_hits
                        .into_iter()
                        .filter(|t| t.globs.is_empty() && !both.iter().any(|b| b.id == t.id))
                        .collect();
                    both.extend(globless);
                    both
                }
                None => text_hits,
            };
            hits.truncate(top_k as usize);
            self.record(
                conn,
                "search_rules",
                file.as_deref(),
                hits.iter().map(|m| m.id.clone()).collect(),
            );
            Ok(SearchResult {
                rules: hits.into_iter().map(hit).collect(),
                note: None,
            })
        })
    }

    pub fn rules_for_files(&self, p: FilesParams) -> Result<FilesResult, ToolError> {
        if p.paths.is_empty() || p.paths.len() > MAX_PATHS {
            return Err(ToolError::Invalid(format!(
                "paths must list 1–{MAX_PATHS} files"
            )));
        }
        if let Some(why) = self.serving_off() {
            return Ok(FilesResult {
                files: vec![],
                note: Some(why),
            });
        }
        let key = self.repo_key();
        self.with_conn(|conn| {
            let mut files = Vec::new();
            let mut outside = Vec::new();
            for given in &p.paths {
                let Some(path) = self.relative(given) else {
                    outside.push(given.clone());
                    continue;
                };
                let rules = matching::match_rules(conn, &Query::new(key).path(&path))?;
                self.record(
                    conn,
                    "rules_for_files",
                    Some(&path),
                    rules.iter().map(|m| m.id.clone()).collect(),
                );
                files.push(FileRules {
                    path,
                    rules: rules.into_iter().map(hit).collect(),
                });
            }
            let note = (!outside.is_empty()).then(|| {
                format!(
                    "outside this repository, so governed by no rules: {}",
                    outside.join(", ")
                )
            });
            Ok(FilesResult { files, note })
        })
    }

    pub fn get_rule(&self, p: GetParams) -> Result<RuleDetail, ToolError> {
        if self.serving_off().is_some() {
            return Err(ToolError::NotFound("serving is switched off".into()));
        }
        self.with_conn(|conn| {
            let r = memory::get(conn, &p.id)?;
            // Another repository's rules stay out of this one's answers.
            if r.repo.is_some() && r.repo.as_deref() != self.repo_key() {
                return Err(ToolError::NotFound(format!(
                    "no rule with id {} in this repository",
                    p.id
                )));
            }
            self.record(conn, "get_rule", None, vec![r.id.clone()]);
            Ok(RuleDetail {
                scope: r.repo.clone().unwrap_or_else(|| "global".into()),
                id: r.id,
                title: r.title,
                statement: r.statement,
                status: r.status.to_string(),
                severity: r.severity.to_string(),
                globs: r.globs,
                confidence: r.confidence,
                origin: r.origin.to_string(),
                evidence: r
                    .evidence
                    .into_iter()
                    .map(|e| EvidenceItem {
                        url: e.url,
                        author: e.author,
                        path: e.path,
                        line: e.line,
                        excerpt: e.excerpt,
                    })
                    .collect(),
            })
        })
    }

    pub fn propose_rule(&self, p: ProposeParams) -> Result<ProposalResult, ToolError> {
        let mut used = self
            .proposals
            .lock()
            .map_err(|_| ToolError::Internal("proposal counter unavailable".into()))?;
        if *used >= PROPOSALS_PER_SESSION {
            return Err(ToolError::Invalid(format!(
                "at most {PROPOSALS_PER_SESSION} proposals per session; a person reviews them with `difflore memory review`"
            )));
        }
        let globs = p.globs.unwrap_or_default();
        self.with_conn(|conn| {
            let today: i64 = conn.query_row(
                "SELECT count(*) FROM rules WHERE origin = 'agent_proposal' AND created_at > ?1",
                [clock::now_ms() - 24 * 3600 * 1000],
                |r| r.get(0),
            )?;
            if today >= PROPOSALS_PER_DAY {
                return Err(ToolError::Invalid(format!(
                    "at most {PROPOSALS_PER_DAY} agent proposals per day; try again tomorrow"
                )));
            }
            let done = memory::propose(conn, self.repo_key(), &p.title, &p.statement, &globs, p.rationale.as_deref())?;
            Ok(match done {
                Proposed::New(r) => {
                    *used += 1;
                    // On a logged-in machine the team's maintainers see it too.
                    let cap = self.config().capture.queue_cap;
                    if let Err(e) = difflore_rules::propose::offer_rule(conn, &self.home, &r.id, cap) {
                        eprintln!("difflore mcp: could not offer the proposal to the team: {e}");
                    }
                    ProposalResult {
                        id: r.id,
                        status: r.status.to_string(),
                        existing: false,
                        message: "Proposed as a pending candidate: a person decides with `difflore memory review`; until then it is not served.".into(),
                    }
                }
                Proposed::Existing(r) => ProposalResult {
                    message: format!("This rule already exists ({}); nothing new was proposed.", r.status),
                    id: r.id,
                    status: r.status.to_string(),
                    existing: true,
                },
            })
        })
    }

    /// The repository's active rules as Markdown (the `difflore://rules/active` resource).
    pub fn active_rules_markdown(&self) -> Result<String, ToolError> {
        if let Some(why) = self.serving_off() {
            return Ok(format!("# Team rules\n\n({why})\n"));
        }
        let key = self.repo_key().map(str::to_string);
        self.with_conn(|conn| {
            let rules = memory::active_in_scope(conn, key.as_deref())?;
            let section = difflore_rules::export::render(
                difflore_rules::export::Format::AgentsMd,
                key.as_deref(),
                &rules,
            );
            let body: Vec<&str> = section
                .lines()
                .filter(|l| {
                    *l != difflore_rules::export::BEGIN
                        && *l != difflore_rules::export::END
                        && !l.starts_with("Generated by")
                })
                .collect();
            Ok(body.join("\n") + "\n")
        })
    }
}
