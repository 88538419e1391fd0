//! The optional language-model pass of extraction (`[extract.llm]`, off by default): an
//! OpenAI-compatible `POST {endpoint}/chat/completions` asked two things — is a comment just
//! below the classifier's threshold a reusable convention, and how would a person write a new
//! candidate's statement and title. The answer must be one strict JSON object
//! (`{"convention": bool, "statement": "...", "title": "..."}`) that validates (an imperative
//! of 3–40 words on one line, not a question; a title of 1–10 words); anything else — a timeout,
//! an HTTP error, prose, a fenced block, a missing field — counts as a failure and the
//! deterministic result stands. A cap bounds the requests per run. It never activates anything:
//! candidates stay pending for a person.

use difflore_core::config::LlmConfig;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the pass did in one run (`extract --json` → `llm`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LlmStats {
    pub model: String,
    /// Requests sent.
    pub calls: u32,
    /// Borderline comments it confirmed (kept).
    pub confirmed: u32,
    /// Borderline comments it did not confirm (still dropped).
    pub declined: u32,
    /// Candidates whose statement and title it wrote.
    pub rewritten: u32,
    /// Requests whose answer failed or did not validate (the deterministic result stood).
    pub failed: u32,
    /// Requests not sent because `max_calls` was reached.
    pub capped: u32,
    /// The first failure, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// A validated answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Convention { statement: String, title: String },
    NotConvention,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    convention: bool,
    #[serde(default)]
    statement: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

const SYSTEM: &str = "You judge code review comments for a tool that turns a team's review history into rules for coding agents. \
A comment is a convention when it states a practice that holds beyond the line it is on (for the codebase, a directory or a kind of file); \
bug reports about this code, renames of one name, questions, praise and instructions for one pull request are not. \
Answer with one JSON object and nothing else: {\"convention\": true|false, \"statement\": \"...\", \"title\": \"...\"}. \
For a convention, statement is the rule as a person would write it: one imperative sentence, code identifiers kept, no hedges, no reference to this pull request; title is 2-8 words.";

/// The pass for one run: its configuration, an HTTP agent, the key, and what it did.
pub struct Llm {
    cfg: LlmConfig,
    agent: ureq::Agent,
    key: Option<String>,
    pub stats: LlmStats,
}

impl Llm {
    /// The pass, when configured and enabled.
    pub fn from_config(cfg: Option<&LlmConfig>) -> Option<Llm> {
        let cfg = cfg.filter(|c| c.enabled)?.clone();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(cfg.timeout_ms)))
            .proxy(ureq::Proxy::try_from_env())
            .user_agent(concat!("difflore/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let key = cfg
            .api_key_env
            .as_deref()
            .and_then(|k| std::env::var(k).ok())
            .filter(|k| !k.trim().is_empty());
        let stats = LlmStats {
            model: cfg.model.clone(),
            ..Default::default()
        };
        Some(Llm {
            cfg,
            agent,
            key,
            stats,
        })
    }

    /// Asks about one comment; `None` when capped or on any failure (counted).
    pub fn ask(&mut self, comment: &str, path: Option<&str>, draft: &str) -> Option<Answer> {
        if self.stats.calls >= self.cfg.max_calls {
            self.stats.capped += 1;
            return None;
        }
        self.stats.calls += 1;
        match self.request(comment, path, draft) {
            Ok(a) => Some(a),
            Err(e) => {
                self.stats.failed += 1;
                self.stats.first_error.get_or_insert(e);
                None
            }
        }
    }

    fn request(&self, comment: &str, path: Option<&str>, draft: &str) -> Result<Answer, String> {
        let excerpt: String = comment.chars().take(2000).collect();
        let user = serde_json::json!({
            "review_comment": excerpt,
            "file": path,
            "draft_statement": draft,
        });
        let body = serde_json::json!({
            "model": self.cfg.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": user.to_string()},
            ],
        });
        let url = format!(
            "{}/chat/completions",
            self.cfg.endpoint.trim_end_matches('/')
        );
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let mut r = req
            .send(body.to_string().as_bytes())
            .map_err(|e| format!("{url}: {e}"))?;
        let status = r.status().as_u16();
        let text = r
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{url}: {e}"))?;
        if status != 200 {
            return Err(format!("{url} answered HTTP {status}"));
        }
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|_| format!("{url} did not answer a chat completion"))?;
        let content = v["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| format!("{url}: no choices[0].message.content"))?;
        parse(content)
    }
}

/// Validates the model's content: one JSON object, nothing around it.
pub fn parse(content: &str) -> Result<Answer, String> {
    let raw: Raw = serde_json::from_str(content.trim())
        .map_err(|e| format!("the answer is not the JSON object asked for: {e}"))?;
    if !raw.convention {
        return Ok(Answer::NotConvention);
    }
    let statement = raw
        .statement
        .map(|s| s.trim().to_string())
        .ok_or("a convention without a statement")?;
    let title = raw
        .title
        .map(|s| s.trim().to_string())
        .ok_or("a convention without a title")?;
    let words = statement.split_whitespace().count();
    if !(3..=40).contains(&words)
        || statement.chars().count() > 240
        || statement.contains('\n')
        || statement.ends_with('?')
    {
        return Err(format!(
            "statement {statement:?} is not one imperative sentence of 3–40 words"
        ));
    }
    let tw = title.split_whitespace().count();
    if !(1..=10).contains(&tw) || title.chars().count() > 80 || title.contains('\n') {
        return Err(format!("title {title:?} is not 1–10 words"));
    }
    let mut statement = statement;
    if !statement.ends_with(['.', '!']) {
        statement.push('.');
    }
    Ok(Answer::Convention { statement, title })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_validate_strictly() {
        assert_eq!(
            parse(
                r#"{"convention": true, "statement": "Use Money for amounts", "title": "Money for amounts"}"#
            ),
            Ok(Answer::Convention {
                statement: "Use Money for amounts.".into(),
                title: "Money for amounts".into()
            })
        );
        assert_eq!(
            parse(r#" {"convention": false} "#),
            Ok(Answer::NotConvention)
        );
        for bad in [
            "Sure! Here is the JSON: {\"convention\": true}",
            "```json\n{\"convention\": false}\n```",
            r#"{"convention": "yes"}"#,
            r#"{"convention": true, "title": "x"}"#,
            r#"{"convention": true, "statement": "Why?", "title": "x"}"#,
            r#"{"convention": true, "statement": "Use it\nnow please ok", "title": "x"}"#,
            r#"{"convention": true, "statement": "Use Money for amounts", "title": ""}"#,
            r#"{"convention": true, "statement": "Use Money for amounts", "title": "t", "extra": 1}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
