//! The storage seam of `difflore-server`: the [`Storage`] trait and its models, nothing else.
//!
//! The HTTP layer (crate `difflore-server`) validates requests and authenticates tokens, then
//! calls a `Storage`; `difflore-server-sqlite` (embedded default) and
//! `difflore-server-postgres` (teams) each implement it in their own crate with their own
//! versioned migrations. Every method is scoped by team: no method reads or writes across teams.
//!
//! Guarantees every implementation gives:
//! - [`Storage::insert_events`] stores each `(team, id)` at most once, whatever the concurrency
//!   (`INSERT … ON CONFLICT DO NOTHING`, never read-then-write), and only returns once the rows
//!   are durable.
//! - [`Storage::list_events`] pages with an opaque [`Cursor`] that never skips a row that
//!   commits late: it only hands out rows below a horizon that no still-running write can fall
//!   under.
#![forbid(unsafe_code)]

pub mod rulebook;

use serde::Serialize;
use std::future::Future;

/// A token's role. `Ingest` writes only (events, proposals) and pulls the team's rules; `Read`
/// adds the GET endpoints; `Maintainer` adds deciding rules; `Admin` has every role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Ingest,
    Read,
    Maintainer,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "ingest" => Role::Ingest,
            "read" => Role::Read,
            "maintainer" => Role::Maintainer,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Read => "read",
            Role::Maintainer => "maintainer",
            Role::Admin => "admin",
        }
    }
    /// The roles this role grants, as `whoami` lists them.
    pub fn grants(self) -> Vec<&'static str> {
        match self {
            Role::Ingest => vec!["ingest"],
            Role::Read => vec!["ingest", "read"],
            Role::Maintainer => vec!["ingest", "read", "maintainer"],
            Role::Admin => vec!["ingest", "read", "maintainer", "admin"],
        }
    }
    pub fn can_read(self) -> bool {
        !matches!(self, Role::Ingest)
    }
    /// May decide the team's rules (approve, reject, pause, resume, edit, merge).
    pub fn can_decide(self) -> bool {
        matches!(self, Role::Maintainer | Role::Admin)
    }
}

/// A token as stored: never the secret, only its SHA-256.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRecord {
    /// Public id, also the first part of the token text.
    pub id: String,
    pub team: String,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub secret_sha256: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// One event to store (already validated by the HTTP layer).
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Lower-case UUID text.
    pub id: String,
    pub kind: String,
    pub occurred_at: String,
    /// Serialized JSON object.
    pub payload: String,
    /// What storing it does to the rulebook, applied only when the event is newly inserted.
    pub effect: Option<Effect>,
    /// Where it counts in the activity figures (counted only when newly inserted).
    pub tally: Tally,
    /// For `rules.served`: the rules served and when in the agent's work (counted per rule only
    /// when newly inserted).
    pub served: Option<Served>,
}

/// The rules a `rules.served` event served, and the moment (`read`, `prompt`, `edit`, `gate`,
/// `mcp`, or `-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub rule_ids: Vec<String>,
    pub moment: String,
}

impl Served {
    /// Most rule ids one event counts for.
    pub const MAX_RULES: usize = 200;

    /// What a validated `rules.served` payload served.
    pub fn of(payload: &serde_json::Value) -> Served {
        let rule_ids = payload["rule_ids"]
            .as_array()
            .map(|a| {
                let mut ids: Vec<String> = a
                    .iter()
                    .filter_map(|v| v.as_str())
                    .filter(|s| !s.is_empty() && s.len() <= 64)
                    .map(str::to_ascii_lowercase)
                    .take(Self::MAX_RULES)
                    .collect();
                ids.sort();
                ids.dedup();
                ids
            })
            .unwrap_or_default();
        let moment = payload["moment"]
            .as_str()
            .or_else(|| payload["mode"].as_str().filter(|m| *m == "mcp"))
            .filter(|m| !m.is_empty())
            .map(|m| m.chars().take(20).collect())
            .unwrap_or_else(|| "-".to_string());
        Served { rule_ids, moment }
    }

    /// Counts per (rule, day, agent, repo, moment) of the `rules.served` events a batch
    /// inserted.
    pub fn count<'a>(inserted: impl Iterator<Item = &'a NewEvent>) -> Vec<(ServedKey, i64)> {
        let mut m: std::collections::HashMap<ServedKey, i64> = std::collections::HashMap::new();
        for e in inserted {
            let Some(s) = &e.served else { continue };
            for id in &s.rule_ids {
                let k = ServedKey {
                    rule_id: id.clone(),
                    day: e.tally.day.clone(),
                    agent: e.tally.agent.clone(),
                    repo: e.tally.repo.clone(),
                    moment: s.moment.clone(),
                };
                *m.entry(k).or_default() += 1;
            }
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// The key rules served are counted under (`served_daily`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ServedKey {
    pub rule_id: String,
    pub day: String,
    pub agent: String,
    pub repo: String,
    pub moment: String,
}

/// The key an event is counted under in the team's daily activity (`activity_daily`): kept at
/// ingest, so the console never scans the event table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Tally {
    /// `YYYY-MM-DD` of `occurred_at` (UTC).
    pub day: String,
    pub kind: String,
    /// The payload's `agent`, or `-`.
    pub agent: String,
    /// The payload's `repo`, or `-`.
    pub repo: String,
}

impl Tally {
    /// The tally of a validated event.
    pub fn of(kind: &str, occurred_at: &str, payload: &serde_json::Value) -> Tally {
        let text = |k: &str, max: usize| {
            payload[k]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(max).collect())
                .unwrap_or_else(|| "-".to_string())
        };
        Tally {
            day: occurred_at.chars().take(10).collect(),
            kind: kind.chars().take(64).collect(),
            agent: text("agent", 40),
            repo: text("repo", 200),
        }
    }

    /// Counts per tally of the events a batch inserted.
    pub fn count<'a>(inserted: impl Iterator<Item = &'a NewEvent>) -> Vec<(Tally, i64)> {
        let mut m: std::collections::HashMap<&Tally, i64> = std::collections::HashMap::new();
        for e in inserted {
            *m.entry(&e.tally).or_default() += 1;
        }
        m.into_iter().map(|(t, n)| (t.clone(), n)).collect()
    }
}

/// One row of the team's activity: events of a kind, per day, agent and repo.
#[derive(Debug, Clone, Serialize)]
pub struct ActivityRow {
    pub day: String,
    pub kind: String,
    pub agent: String,
    pub repo: String,
    pub count: i64,
}

/// A console session as stored: the SHA-256 of the cookie's secret, never the secret.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id_sha256: String,
    pub token_id: String,
    /// The session's CSRF token, carried by every form.
    pub csrf: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the session is gone after.
    pub expires_at: i64,
}

/// One entry of a rule's audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub action: String,
    pub actor: String,
    pub from_revision: i64,
    pub from_version: i64,
    pub to_status: String,
    pub reason: Option<String>,
    pub at: String,
}

/// A typed effect of an event at ingest (DESIGN §10 "Effects at ingest"): applied by the backend
/// in the transaction that inserts the event, and only when it is newly inserted, so a replayed
/// event changes nothing.
#[derive(Debug, Clone)]
pub enum Effect {
    /// `rule.proposed`: a new pending rule, or evidence for a known one, or nothing (tombstoned).
    Propose(Box<difflore_proto::rules::RuleProposal>),
    /// `rule.recurred`: a review comment that made a rule's point again, counted for that rule
    /// (a comment counts once per team, for the rule it matched best).
    Recur(Box<difflore_proto::outcomes::RuleRecurred>),
}

/// The recurrences among the events a batch stored now.
pub fn recurred<'a>(
    inserted: impl Iterator<Item = &'a NewEvent>,
) -> Vec<&'a difflore_proto::outcomes::RuleRecurred> {
    inserted
        .filter_map(|e| match &e.effect {
            Some(Effect::Recur(r)) => Some(&**r),
            _ => None,
        })
        .collect()
}

/// What a rule's recurrence figures are made of: when it first became active, the dates (and
/// files) of its evidence, and the dates of the comments that made its point again.
#[derive(Debug, Clone, Default)]
pub struct RuleDates {
    pub rule_id: String,
    /// RFC 3339: the first decision that made it active.
    pub activated_at: String,
    pub globs: Vec<String>,
    /// (file, date) of each piece of evidence that carries a date.
    pub evidence: Vec<(Option<String>, String)>,
    pub recurred: Vec<String>,
}

impl RuleDates {
    /// Before and since activation — the rule's evidence on files it governs, and its
    /// recurrences — exactly as `difflore report` counts them on a machine.
    pub fn recurrence(&self, window_days: i64) -> difflore_proto::outcomes::Recurrence {
        let governs = difflore_proto::globs::RuleGlobs::new(&self.globs);
        let evidence = self
            .evidence
            .iter()
            .filter(|(path, _)| path.as_deref().is_none_or(|p| governs.governs(p)))
            .map(|(_, at)| at.as_str());
        difflore_proto::outcomes::Recurrence::count(
            &self.activated_at,
            window_days,
            evidence.chain(self.recurred.iter().map(String::as_str)),
        )
    }
}

/// Which rules a pull or a listing wants.
#[derive(Debug, Clone, Default)]
pub struct RulesQuery {
    /// Only changes after this team version (0: everything).
    pub since: i64,
    pub limit: usize,
    pub repo: Option<String>,
    pub status: Option<difflore_proto::rules::TeamStatus>,
}

/// Why a decision was not applied.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("no rule {0} in this team")]
    NotFound(String),
    #[error(transparent)]
    Rulebook(#[from] rulebook::DecideError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One stored event, as `GET /v1/events` returns it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub id: String,
    pub kind: String,
    pub occurred_at: String,
    pub payload: serde_json::Value,
    pub received_at: String,
}

/// An opaque position in a team's event stream (backend-specific text).
pub type Cursor = String;

/// A page of events.
#[derive(Debug, Clone)]
pub struct Page {
    pub events: Vec<StoredEvent>,
    /// Where the next page starts; `None` when this page is empty.
    pub next_cursor: Option<Cursor>,
}

/// `GET /v1/stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub events: i64,
    pub by_kind: std::collections::BTreeMap<String, i64>,
    pub first_received_at: Option<String>,
    pub last_received_at: Option<String>,
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The cursor was not produced by this backend.
    #[error("invalid cursor")]
    BadCursor,
    /// An active token with this team and name exists already.
    #[error("an active token named {name:?} exists already in team {team:?}")]
    TokenExists { team: String, name: String },
    /// The database is unreachable or failed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl StorageError {
    /// The database failed (any displayable cause).
    pub fn unavailable(e: impl std::fmt::Display) -> StorageError {
        StorageError::Unavailable(e.to_string())
    }
}

/// What became of one event given to [`Storage::insert_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored by this call.
    Inserted,
    /// `(team, id)` was stored before.
    Existed,
    /// The database refused this event's data (the reason says why); nothing of it is stored.
    Refused(String),
}

/// The current time as RFC 3339 (UTC), as every backend stores it.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What a `difflore-server` backend provides. All methods are team-scoped.
pub trait Storage: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Cheap liveness check for `/v1/health`.
    fn ping(&self) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Inserts events; returns, for each input in order, whether it was stored now, existed
    /// already as `(team, id)`, or was refused by the database itself (that event only: one
    /// refusal never fails the others). Inputs must have distinct ids.
    fn insert_events(
        &self,
        team: &str,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Vec<Stored>, StorageError>> + Send;

    /// Events of `team` after `after` (from the start when `None`), at most `limit`.
    fn list_events(
        &self,
        team: &str,
        after: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page, StorageError>> + Send;

    fn stats(&self, team: &str) -> impl Future<Output = Result<Stats, StorageError>> + Send;

    fn create_token(
        &self,
        record: TokenRecord,
    ) -> impl Future<Output = Result<TokenRecord, StorageError>> + Send;

    /// The active (not revoked) token with this public id.
    fn active_token(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StorageError>> + Send;

    /// Every token, optionally of one team, oldest first.
    fn list_tokens(
        &self,
        team: Option<String>,
    ) -> impl Future<Output = Result<Vec<TokenRecord>, StorageError>> + Send;

    /// The team's rule with this id.
    fn get_rule(
        &self,
        team: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<difflore_proto::rules::TeamRule>, StorageError>> + Send;

    /// Rules (and tombstones) changed after `q.since`, in version order, at most `q.limit`
    /// rules; never skips a change that commits late.
    fn list_rules(
        &self,
        team: &str,
        q: RulesQuery,
    ) -> impl Future<Output = Result<difflore_proto::rules::RulesPage, StorageError>> + Send;

    /// Applies a maintainer's decision, audited (who, when, from which revision, why).
    fn decide(
        &self,
        team: &str,
        id: &str,
        d: difflore_proto::rules::Decision,
        actor: String,
    ) -> impl Future<Output = Result<difflore_proto::rules::TeamRule, DecisionError>> + Send;

    /// Stores a new console session.
    fn create_session(
        &self,
        s: SessionRecord,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// The session with this hash, unless it expired (`now` in Unix seconds).
    fn session(
        &self,
        id_sha256: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StorageError>> + Send;

    /// Ends a session (sign-out), and any expired ones.
    fn delete_session(
        &self,
        id_sha256: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// A rule's audit trail, oldest first.
    fn rule_audit(
        &self,
        team: &str,
        id: &str,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StorageError>> + Send;

    /// How often the team's agents were served each rule (of one rule, or all), per day, agent,
    /// repo and moment, from day `since` on.
    fn served(
        &self,
        team: &str,
        since: &str,
        rule_id: Option<String>,
    ) -> impl Future<Output = Result<Vec<(ServedKey, i64)>, StorageError>> + Send;

    /// Per rule that has been active (one, or all): what its recurrence figures are made of.
    fn recurrence_dates(
        &self,
        team: &str,
        rule_id: Option<String>,
    ) -> impl Future<Output = Result<Vec<RuleDates>, StorageError>> + Send;

    /// The team's activity counts from day `since` (`YYYY-MM-DD`) on.
    fn activity(
        &self,
        team: &str,
        since: &str,
    ) -> impl Future<Output = Result<Vec<ActivityRow>, StorageError>> + Send;

    /// Revokes the active token with this id, or with this team and name, and ends its console
    /// sessions. Returns how many tokens.
    fn revoke_token(
        &self,
        id_or_name: &str,
        team: Option<String>,
    ) -> impl Future<Output = Result<usize, StorageError>> + Send;
}
