//! Whether rules reach the agents and whether they work: how often each rule was served, per
//! day, agent, repo and moment, and how often reviewers made its point before and after it became
//! active (recurrence) — the figures `GET /v1/outcomes` answers with (from the server's counters)
//! and `difflore report` shows (from the team's, or this machine's own). One summary, one
//! window rule and one `rule.recurred` payload for both sides.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One rule's serving figures over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedFigures {
    pub rule_id: String,
    /// Times served in the window.
    pub served: i64,
    /// The last day (`YYYY-MM-DD`) it was served, if it was.
    pub last_served_day: Option<String>,
    /// By moment: `read`, `prompt`, `edit`, `gate`, `mcp` (`-` unknown).
    pub by_moment: BTreeMap<String, i64>,
    pub by_agent: BTreeMap<String, i64>,
    pub by_repo: BTreeMap<String, i64>,
    pub per_day: BTreeMap<String, i64>,
}

/// `GET /v1/outcomes` (schema 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub schema_version: u32,
    /// The first day of the window.
    pub since: String,
    /// Rules served in the window, most served first.
    pub rules: Vec<ServedFigures>,
    /// Per rule that has been active: how often its point was made in review before and since.
    #[serde(default)]
    pub recurrence: BTreeMap<String, Recurrence>,
}

/// How often a rule's point was made in review in the `window_days` before it first became
/// active (its own evidence included), and since.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub before: i64,
    pub after: i64,
    pub window_days: i64,
}

/// The recurrence window, in days, unless asked otherwise.
pub const RECURRENCE_DAYS: i64 = 90;

impl Recurrence {
    /// Counts comment dates (RFC 3339, UTC) against the moment the rule first became active:
    /// at or after it is "after"; in the `window_days` before it, "before"; older, not counted.
    /// Dates compare on their first 19 characters (`YYYY-MM-DDTHH:MM:SS`).
    pub fn count<'a>(
        activated_at: &str,
        window_days: i64,
        dates: impl IntoIterator<Item = &'a str>,
    ) -> Recurrence {
        let key = |t: &str| t.chars().take(19).collect::<String>();
        let active = key(activated_at);
        let from = time::OffsetDateTime::parse(
            activated_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map(|t| {
            let t = t.to_offset(time::UtcOffset::UTC) - time::Duration::days(window_days);
            key(&t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default())
        })
        .unwrap_or_default();
        let mut r = Recurrence {
            window_days,
            ..Default::default()
        };
        for d in dates {
            let d = key(d);
            if d >= active {
                r.after += 1;
            } else if d >= from {
                r.before += 1;
            }
        }
        r
    }
}

/// The payload of a `rule.recurred` event: a review comment that made an active rule's point
/// again. Its event id is derived from the comment and the rule, so every machine that finds the
/// same recurrence sends the same event; the server counts a comment for one rule at most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleRecurred {
    /// The rule (a team rule's id).
    pub rule_id: String,
    /// The repository key (DESIGN §9).
    pub repo: String,
    /// `github`, `gitlab` or `file`.
    pub source: String,
    /// The platform's comment id.
    pub comment_id: String,
    /// When the comment was written (RFC 3339).
    pub at: String,
    #[serde(default)]
    pub url: Option<String>,
    /// The file it is about, repo-relative.
    #[serde(default)]
    pub path: Option<String>,
    /// How closely it made the rule's point (0–1).
    pub score: f64,
}

/// Why a `rule.recurred` payload is not one the server can count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid recurrence: {0}")]
pub struct RecurredError(pub String);

impl RuleRecurred {
    /// Reads and checks a `rule.recurred` payload.
    pub fn from_payload(payload: &serde_json::Value) -> Result<RuleRecurred, RecurredError> {
        let r: RuleRecurred =
            serde_json::from_value(payload.clone()).map_err(|e| RecurredError(e.to_string()))?;
        r.check()?;
        Ok(r)
    }

    pub fn check(&self) -> Result<(), RecurredError> {
        let bad = |m: String| Err(RecurredError(m));
        if uuid::Uuid::parse_str(&self.rule_id).is_err() {
            return bad(format!("rule_id {:?} is not a UUID", self.rule_id));
        }
        for (name, v, max) in [
            ("repo", &self.repo, 512),
            ("source", &self.source, 32),
            ("comment_id", &self.comment_id, 256),
        ] {
            if v.trim().is_empty() || v.chars().count() > max {
                return bad(format!("{name} must be 1–{max} characters"));
            }
        }
        if !crate::is_valid_timestamp(&self.at) {
            return bad(format!("at {:?} is not an RFC 3339 time", self.at));
        }
        if let Some(u) = &self.url
            && (u.chars().count() > 2048
                || !(u.starts_with("https://") || u.starts_with("http://")))
        {
            return bad("url must be an http(s) link of at most 2048 characters".into());
        }
        if self.path.as_ref().is_some_and(|p| p.chars().count() > 1024) {
            return bad("path must be at most 1024 characters".into());
        }
        if !(0.0..=1.0).contains(&self.score) {
            return bad("score must be between 0 and 1".into());
        }
        Ok(())
    }
}

/// One counter row: (rule id, day, agent, repo, moment, count).
pub type ServedRow = (String, String, String, String, String, i64);

/// Sums counter rows into per-rule figures, most served first.
pub fn summarize(rows: impl IntoIterator<Item = ServedRow>) -> Vec<ServedFigures> {
    let mut out: Vec<ServedFigures> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (rule_id, day, agent, repo, moment, n) in rows {
        // Rows usually come grouped by rule: the last one is the likely one.
        let i = match out.last() {
            Some(f) if f.rule_id == rule_id => out.len() - 1,
            _ => match at.get(&rule_id) {
                Some(&i) => i,
                None => {
                    at.insert(rule_id.clone(), out.len());
                    out.push(ServedFigures {
                        rule_id,
                        ..Default::default()
                    });
                    out.len() - 1
                }
            },
        };
        let f = &mut out[i];
        f.served += n;
        add(&mut f.by_moment, moment, n);
        add(&mut f.by_agent, agent, n);
        add(&mut f.by_repo, repo, n);
        if f.last_served_day
            .as_deref()
            .is_none_or(|d| d < day.as_str())
        {
            f.last_served_day = Some(day.clone());
        }
        add(&mut f.per_day, day, n);
    }
    out.sort_by(|a, b| b.served.cmp(&a.served).then(a.rule_id.cmp(&b.rule_id)));
    out
}

/// Adds `n` under `k`, without copying a key that is there already.
fn add(m: &mut BTreeMap<String, i64>, k: String, n: i64) {
    match m.get_mut(&k) {
        Some(v) => *v += n,
        None => {
            m.insert(k, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurrence_counts_the_window_before_activation_and_everything_since() {
        let r = Recurrence::count(
            "2026-06-01T12:00:00Z",
            90,
            [
                "2026-01-01T00:00:00Z", // older than the window
                "2026-03-04T12:00:00Z", // 89 days before
                "2026-06-01T11:59:59Z",
                "2026-06-01T12:00:00Z",
                "2026-09-30T08:00:00+00:00",
            ],
        );
        assert_eq!((r.before, r.after, r.window_days), (2, 2, 90));
    }

    #[test]
    fn recurred_payloads_are_checked() {
        let ok = serde_json::json!({"rule_id": "0192f0c8-7a6e-7c3b-9d2e-4a1b2c3d4e5f",
            "repo": "github.com/acme/shop", "source": "github", "comment_id": "77",
            "at": "2026-11-01T10:00:00Z", "url": "https://github.com/acme/shop/pull/3#r77",
            "path": "src/a.rs", "score": 0.8});
        assert!(RuleRecurred::from_payload(&ok).is_ok());
        for (k, v) in [
            ("rule_id", serde_json::json!("x")),
            ("at", serde_json::json!("yesterday")),
            ("url", serde_json::json!("javascript:alert(1)")),
            ("score", serde_json::json!(3)),
            ("comment_id", serde_json::json!("")),
        ] {
            let mut bad = ok.clone();
            bad[k] = v;
            let e = RuleRecurred::from_payload(&bad).unwrap_err();
            assert!(e.to_string().contains(k), "{k}: {e}");
        }
    }

    #[test]
    fn rows_sum_per_rule_most_served_first() {
        let row = |r: &str, d: &str, a: &str, m: &str, n| {
            (r.into(), d.into(), a.into(), "shop".into(), m.into(), n)
        };
        let v = summarize([
            row("a", "2026-11-01", "codex", "read", 1),
            row("b", "2026-11-02", "claude-code", "read", 2),
            row("b", "2026-11-05", "codex", "gate", 3),
        ]);
        assert_eq!(v[0].rule_id, "b");
        assert_eq!(v[0].served, 5);
        assert_eq!(v[0].last_served_day.as_deref(), Some("2026-11-05"));
        assert_eq!(v[0].by_moment["gate"], 3);
        assert_eq!(v[0].per_day.len(), 2);
        assert_eq!(v[1].served, 1);
    }
}
