//! The team rulebook's shared vocabulary (DESIGN §10): the rule signature both sides compute,
//! the `rule.proposed` payload and its limits, the team rule object, decisions and the pull page.
//!
//! The signature identifies a rule's *point* for tombstones and exact de-duplication: it keeps
//! negation and word order ("use unwrap in tests" ≠ "don't use unwrap in tests"; "prefer A over
//! B" ≠ "prefer B over A") and drops only what never changes a rule's meaning (case, punctuation,
//! articles, politeness, modal verbs, plural and tense endings). It is versioned: a stored
//! signature carries [`SIGNATURE_VERSION`], and a later version never reads an older one as its
//! own. Clustering paraphrases is a separate, looser step on the client.

use serde::{Deserialize, Serialize};

/// The version of [`signature`] this crate computes.
pub const SIGNATURE_VERSION: u32 = 1;

/// Most pieces of evidence one proposal carries (more travel in further proposals).
pub const MAX_EVIDENCE_PER_PROPOSAL: usize = 50;
/// Longest statement, in characters.
pub const MAX_STATEMENT_CHARS: usize = 2_000;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Most globs on one rule, and the longest one.
pub const MAX_GLOBS: usize = 32;
pub const MAX_GLOB_CHARS: usize = 256;
/// Longest evidence excerpt, in characters.
pub const MAX_EXCERPT_CHARS: usize = 4_000;

/// Words that never change what a rule says.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "please",
    "we",
    "you",
    "our",
    "your",
    "should",
    "must",
    "shall",
    "always",
    "need",
    "needs",
    "to",
    "be",
    "is",
    "are",
    "kindly",
    "just",
    "really",
    "ideally",
    "generally",
    "do",
    "does",
];

/// Spellings of "not": every one becomes the single token `not`, in place.
const NEGATIONS: &[&str] = &[
    "not",
    "no",
    "never",
    "don't",
    "dont",
    "doesn't",
    "doesnt",
    "shouldn't",
    "shouldnt",
    "mustn't",
    "mustnt",
    "can't",
    "cant",
    "cannot",
    "won't",
    "avoid",
];

/// The signature of a statement, version [`SIGNATURE_VERSION`]: its meaningful words, in order,
/// with every negation as `not` — `"v1:not use unwrap in test"`.
pub fn signature(statement: &str) -> String {
    let text = statement
        .to_lowercase()
        .replace(['\u{2019}', '\u{2018}', '`'], "'");
    let mut words: Vec<String> = Vec::new();
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\'')) {
        let w = raw.trim_matches('\'');
        if w.is_empty() {
            continue;
        }
        if NEGATIONS.contains(&w) {
            if words.last().map(String::as_str) != Some("not") {
                words.push("not".into());
            }
            continue;
        }
        if FILLER.contains(&w) {
            continue;
        }
        words.push(stem(w));
    }
    format!("v{SIGNATURE_VERSION}:{}", words.join(" "))
}

/// Plural endings off (`tests` → `test`, `matches` → `match`, `retries` → `retry`); a word
/// keeps at least three letters, and words like `status` or `class` are left alone.
fn stem(w: &str) -> String {
    if let Some(s) = w.strip_suffix("ies")
        && s.chars().count() >= 2
    {
        return format!("{s}y");
    }
    if let Some(s) = w.strip_suffix("es")
        && s.chars().count() >= 3
        && ["s", "x", "z", "ch", "sh"].iter().any(|e| s.ends_with(e))
    {
        return s.to_string();
    }
    if let Some(s) = w.strip_suffix('s')
        && s.chars().count() >= 3
        && !["s", "u", "i"].iter().any(|e| s.ends_with(e))
    {
        return s.to_string();
    }
    w.to_string()
}

/// One piece of evidence: a review comment that made the point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Link to the comment (http or https only).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub comment_id: Option<String>,
    /// `github`, `gitlab` or `file`.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub line: Option<i64>,
    pub excerpt: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// How strictly a rule is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Told to the agent.
    Context,
    /// Told, and an edit held back once in gate mode.
    Enforce,
}

/// A team rule's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamStatus {
    Pending,
    Active,
    Paused,
    Rejected,
    /// Folded into another rule by a merge.
    Merged,
}

/// The payload of a `rule.proposed` event: a candidate (or a shared personal rule) with its
/// evidence. The server recomputes the signature; the one sent is only informative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleProposal {
    /// The proposing machine's rule id (a UUID): the team rule's id when it is new.
    pub rule_id: String,
    /// The repository key (DESIGN §9); `None` for a rule of every repository.
    #[serde(default)]
    pub repo: Option<String>,
    pub title: String,
    pub statement: String,
    #[serde(default)]
    pub rationale: Option<String>,
    #[serde(default)]
    pub globs: Vec<String>,
    pub severity: Severity,
    /// How the rule came to be (`review_import`, `manual`, `agent`).
    pub origin: String,
    #[serde(default)]
    pub confidence: f64,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// Why a proposal is not one the rulebook can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule proposal: {0}")]
pub struct ProposalError(pub String);

impl RuleProposal {
    /// Reads and checks a `rule.proposed` payload.
    pub fn from_payload(payload: &serde_json::Value) -> Result<RuleProposal, ProposalError> {
        let p: RuleProposal =
            serde_json::from_value(payload.clone()).map_err(|e| ProposalError(e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    /// The limits of DESIGN §10, each with the field it names.
    pub fn check(&self) -> Result<(), ProposalError> {
        let bad = |m: String| Err(ProposalError(m));
        if uuid::Uuid::parse_str(&self.rule_id).is_err() {
            return bad(format!("rule_id {:?} is not a UUID", self.rule_id));
        }
        let chars = |s: &str| s.chars().count();
        if self.statement.trim().is_empty() || chars(&self.statement) > MAX_STATEMENT_CHARS {
            return bad(format!(
                "statement must be 1–{MAX_STATEMENT_CHARS} characters"
            ));
        }
        if self.title.trim().is_empty() || chars(&self.title) > MAX_TITLE_CHARS {
            return bad(format!("title must be 1–{MAX_TITLE_CHARS} characters"));
        }
        if self.globs.len() > MAX_GLOBS
            || self
                .globs
                .iter()
                .any(|g| g.trim().is_empty() || chars(g) > MAX_GLOB_CHARS)
        {
            return bad(format!(
                "globs: at most {MAX_GLOBS}, each 1–{MAX_GLOB_CHARS} characters"
            ));
        }
        if !(0.0..=1.0).contains(&self.confidence) {
            return bad("confidence must be between 0 and 1".into());
        }
        if self.evidence.len() > MAX_EVIDENCE_PER_PROPOSAL {
            return bad(format!(
                "{} pieces of evidence; at most {MAX_EVIDENCE_PER_PROPOSAL} per proposal",
                self.evidence.len()
            ));
        }
        for (i, e) in self.evidence.iter().enumerate() {
            if chars(&e.excerpt) > MAX_EXCERPT_CHARS {
                return bad(format!(
                    "evidence[{i}].excerpt is over {MAX_EXCERPT_CHARS} characters"
                ));
            }
            if let Some(u) = &e.url
                && !(u.starts_with("https://") || u.starts_with("http://"))
            {
                return bad(format!("evidence[{i}].url must be http(s)"));
            }
        }
        Ok(())
    }
}

/// The team rule object (`GET /v1/rules`, `GET /v1/rules/{id}`, pulls, the console).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRule {
    pub id: String,
    pub repo: Option<String>,
    pub title: String,
    pub statement: String,
    pub rationale: Option<String>,
    pub globs: Vec<String>,
    pub severity: Severity,
    pub status: TeamStatus,
    pub origin: String,
    pub confidence: f64,
    pub signature: String,
    pub evidence: Vec<Evidence>,
    /// The team-wide change sequence at this rule's last change (pulls page on it).
    pub version: i64,
    /// Bumped by decisions and edits only (decisions are checked against it).
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// What a maintainer does to a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Approve,
    Reject,
    Pause,
    Resume,
    Edit,
    Merge,
}

/// Fields an `edit` (or an approve with changes) sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleChanges {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub statement: Option<String>,
    #[serde(default)]
    pub rationale: Option<String>,
    #[serde(default)]
    pub globs: Option<Vec<String>>,
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Body of `POST /v1/rules/{id}/decision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub action: Action,
    pub expected_revision: i64,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub changes: Option<RuleChanges>,
    /// The rule a `merge` folds this one into.
    #[serde(default)]
    pub into: Option<String>,
}

/// A signature the team rejected (or merged away); `lifted` when a later approval undid it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamTombstone {
    pub signature: String,
    pub repo: Option<String>,
    pub lifted: bool,
    pub version: i64,
}

/// `GET /v1/rules?since=V&limit=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesPage {
    pub schema_version: u32,
    pub rules: Vec<TeamRule>,
    pub tombstones: Vec<TeamTombstone>,
    /// Where the next pull starts; `None` when nothing newer exists yet.
    pub next_since: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negation_and_word_order_are_kept() {
        let s = signature;
        assert_ne!(s("Use unwrap in tests"), s("Don't use unwrap in tests"));
        assert_ne!(s("Prefer A over B"), s("Prefer B over A"));
        assert_ne!(
            s("Log the error, then retry"),
            s("Retry, then log the error")
        );
        // Every spelling of "not" is one.
        for neg in [
            "Do not use unwrap in tests.",
            "don't use unwrap in tests",
            "Never use unwrap in tests",
            "We should not use `unwrap` in tests!",
            "Don’t use unwrap in tests",
        ] {
            assert_eq!(s(neg), "v1:not use unwrap in test", "{neg}");
        }
    }

    #[test]
    fn what_never_changes_a_rule_is_dropped() {
        assert_eq!(
            signature("Please always run the migrations in a transaction."),
            signature("run migrations in transaction")
        );
        assert_eq!(
            signature("Retries use backoff"),
            signature("retry uses backoff")
        );
        assert_eq!(signature("match the types"), signature("Matches the type"));
        assert_eq!(signature("check the status"), "v1:check status");
        assert!(signature("x").starts_with(&format!("v{SIGNATURE_VERSION}:")));
    }

    fn proposal() -> serde_json::Value {
        serde_json::json!({
            "rule_id": "0193a5b2-7c1e-7d4a-9f00-3e9f0a1b2c3d",
            "repo": "github.com/acme/shop",
            "title": "Money, not f64",
            "statement": "Never use f64 for amounts: use Money.",
            "globs": ["src/billing/**"],
            "severity": "context",
            "origin": "review_import",
            "confidence": 0.8,
            "evidence": [{"url": "https://github.com/acme/shop/pull/7#discussion_r1", "excerpt": "f64 rounds"}]
        })
    }

    #[test]
    fn proposals_are_checked_field_by_field() {
        assert!(RuleProposal::from_payload(&proposal()).is_ok());
        let with = |k: &str, v: serde_json::Value| {
            let mut p = proposal();
            p[k] = v;
            RuleProposal::from_payload(&p).unwrap_err().0
        };
        assert!(with("rule_id", "r-1".into()).contains("not a UUID"));
        assert!(with("statement", " ".into()).contains("statement"));
        assert!(with("severity", "loud".into()).contains("unknown variant"));
        assert!(with("confidence", 3.into()).contains("confidence"));
        assert!(with("globs", serde_json::json!([""])).contains("globs"));
        let many: Vec<serde_json::Value> = (0..51)
            .map(|i| serde_json::json!({"excerpt": format!("e{i}")}))
            .collect();
        assert!(with("evidence", many.into()).contains("at most 50"));
        assert!(
            with(
                "evidence",
                serde_json::json!([{"url": "javascript:alert(1)", "excerpt": "x"}])
            )
            .contains("http(s)")
        );
        assert!(with("surprise", 1.into()).contains("unknown field"));
    }
}
