//! Does a review comment state a reusable convention? A deterministic, explainable decision:
//! every verdict carries its reason. Dropped: bots, the PR author's own comments, praise and
//! acknowledgements, questions that state no norm, one-off `suggestion` blocks, typo and wording
//! nits, comments retracted later in the thread, instructions that only concern this PR. Kept:
//! normative statements — "use X instead of Y", "we don't…", "always…", "prefer…", "avoid…",
//! "never…", "must…", including polite forms that state a norm — rewritten as an imperative.

use regex::Regex;
use std::sync::OnceLock;

/// What the classifier needs to know about one comment.
#[derive(Debug, Clone, Default)]
pub struct CommentFacts<'a> {
    pub body: &'a str,
    pub is_bot: bool,
    pub is_pr_author: bool,
    /// The same author took it back later in the thread.
    pub retracted: bool,
}

/// The decision, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep { statement: String, reason: String },
    Drop { reason: String },
}

fn re(p: &str) -> Regex {
    Regex::new(p).unwrap_or_else(|_| Regex::new("$^").expect("empty regex"))
}

struct Patterns {
    suggestion: Regex,
    code_block: Regex,
    quote: Regex,
    praise: Regex,
    typo: Regex,
    this_pr: Regex,
    norms: Vec<(Regex, &'static str)>,
    strong: Regex,
    lead: Regex,
    we_rewrite: Vec<(Regex, &'static str)>,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        suggestion: re(r"(?s)```suggestion[^\n]*\n.*?```"),
        code_block: re(r"(?s)```.*?```"),
        quote: re(r"(?m)^\s*>.*$"),
        praise: re(r"(?i)^\s*(lgtm|looks (good|great)( to me)?|nice( one| work| catch)?|great( work| job)?|thanks?( you)?( so much)?|thx|ty|awesome|perfect|cool|done|fixed|agreed|\+1|👍|🎉|ship it|good (call|catch|point)|makes sense)[\s!.,:)]*$"),
        typo: re(r"(?i)\b(typo|spelling|misspell|grammar|wording|rephrase|capitali[sz])"),
        this_pr: re(r"(?i)\b(rebase|squash|merge conflicts?|resolve (the )?conflicts|ci is (failing|red)|tests? (are|is) failing|split this pr|in this pr|before merging|revert this|re-?run|bump the version in this|leftover|debug (print|log)|remove this (line|comment|print|log|todo))\b"),
        norms: vec![
            (re(r"(?i)\bwe (do not|don't|never|always|should(n't| not)?|prefer|avoid|use|must|want to|try to)\b"), "states what the team does"),
            (re(r"(?i)\b(always|never)\b"), "says always/never"),
            (re(r"(?i)\binstead of\b"), "says use X instead of Y"),
            (re(r"(?i)^(please\s+)?use\b.+\b(not|rather than|over)\b"), "says use X, not Y"),
            (re(r"(?i)\b(prefer|avoid)\b"), "says prefer/avoid"),
            (re(r"(?i)\b(must|must not|mustn't|shall not)\b"), "says must"),
            (re(r"(?i)(^|[.!?]\s+|\bplease\s+)(do not|don't)\b"), "says don't"),
            (re(r"(?i)\b(convention|style guide|our (style|rule|guideline)s?|by policy|rule of thumb)\b"), "cites a convention"),
            (re(r"(?i)\bshould (always|never|use|not|be)\b"), "says should"),
        ],
        strong: re(r"(?i)\b(we (do not|don't|never|always)|always|never|convention|must)\b"),
        lead: re(r"(?i)^(nit|nitpick|minor|suggestion|optional|style|fyi|issue|question|important|blocking)\s*[:\-]\s*|^(please,?\s+|i think\s+|i'd\s+|i would\s+|imo,?\s+|imho,?\s+|could you\s+|can you\s+|would you mind\s+|maybe\s+|perhaps\s+|let's\s+|let us\s+|also,?\s+|btw,?\s+|generally,?\s+|in general,?\s+)+"),
        we_rewrite: vec![
            (re(r"(?i)^we (don't|do not)\s+"), "Don't "),
            (re(r"(?i)^we never\s+"), "Never "),
            (re(r"(?i)^we always\s+"), "Always "),
            (re(r"(?i)^we (prefer)\s+"), "Prefer "),
            (re(r"(?i)^we (avoid)\s+"), "Avoid "),
            (re(r"(?i)^we (must|should|want to|try to)\s+"), ""),
            (re(r"(?i)^we use\s+"), "Use "),
            (re(r"(?i)^you (should|must)\s+"), ""),
            (re(r"(?i)^(it|this) should (always|never)\s+"), "$2 "),
        ],
    })
}

/// The text a reviewer wrote, without suggestion blocks, code blocks and quoted lines.
fn prose(body: &str) -> (String, bool) {
    let p = patterns();
    let had_suggestion = p.suggestion.is_match(body);
    let t = p.suggestion.replace_all(body, " ");
    let t = p.code_block.replace_all(&t, " ");
    let t = p.quote.replace_all(&t, " ");
    (
        t.split_whitespace().collect::<Vec<_>>().join(" "),
        had_suggestion,
    )
}

fn sentences(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = t.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        cur.push(*c);
        // A sentence ends at . ! ? followed by a space and a capital (or the end): `println!
        // here` and `e.g. this` stay one sentence.
        let next_word = chars[i + 1..].iter().find(|n| !n.is_whitespace());
        let end = matches!(c, '.' | '!' | '?')
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace())
            && next_word.is_none_or(|n| n.is_uppercase() || !n.is_alphabetic());
        if end {
            out.push(cur.trim().to_string());
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Rewrites a normative sentence into an imperative statement.
pub fn imperative(sentence: &str) -> String {
    let p = patterns();
    let mut s = sentence.trim().to_string();
    for _ in 0..3 {
        let t = p.lead.replace(&s, "").to_string();
        if t == s {
            break;
        }
        s = t;
    }
    for (r, rep) in &p.we_rewrite {
        if r.is_match(&s) {
            s = r.replace(&s, *rep).to_string();
            break;
        }
    }
    let s = s
        .trim()
        .trim_end_matches(['?', '!', '.', ',', ';', ':'])
        .trim()
        .to_string();
    let mut c = s.chars();
    let mut out = match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    };
    if out.chars().count() > 200 {
        out = out.chars().take(199).collect::<String>() + "…";
    }
    if !out.is_empty() && !out.ends_with('…') {
        out.push('.');
    }
    out
}

/// Classifies one comment.
pub fn classify(c: &CommentFacts<'_>) -> Verdict {
    let drop = |r: &str| Verdict::Drop {
        reason: r.to_string(),
    };
    if c.is_bot {
        return drop("written by a bot");
    }
    if c.is_pr_author {
        return drop("the PR author's own comment");
    }
    if c.retracted {
        return drop("retracted later in the thread");
    }
    if is_retraction(c.body) {
        return drop("takes an earlier comment back");
    }
    let p = patterns();
    let (text, had_suggestion) = prose(c.body);
    if text.is_empty() {
        return drop(if had_suggestion {
            "a one-off suggestion block"
        } else {
            "no prose"
        });
    }
    if p.praise.is_match(&text) {
        return drop("praise or acknowledgement");
    }
    let strong = p.strong.is_match(&text);
    if p.typo.is_match(&text) && !strong {
        return drop("a typo or wording nit");
    }
    if p.this_pr.is_match(&text) && !strong {
        return drop("an instruction for this PR only");
    }
    for s in sentences(&text) {
        if let Some((_, why)) = p.norms.iter().find(|(r, _)| r.is_match(&s)) {
            let statement = imperative(&s);
            if statement.split_whitespace().count() < 3 {
                continue;
            }
            let polite = s.trim_end().ends_with('?');
            let reason = if polite {
                format!("{why} (as a polite question)")
            } else {
                why.to_string()
            };
            return Verdict::Keep { statement, reason };
        }
    }
    if had_suggestion {
        return drop("a one-off suggestion block");
    }
    if text.trim_end().ends_with('?') {
        return drop("a question that states no norm");
    }
    drop("states no reusable norm")
}

/// `true` when a reply takes the author's earlier comment back.
pub fn is_retraction(body: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r"(?i)\b(never ?mind|ignore (this|that|my (previous|last) comment)|scratch that|my bad|disregard|i was wrong|you're right,? (it's|this is) fine|not an issue after all)\b"))
        .is_match(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(body: &str) -> Verdict {
        classify(&CommentFacts {
            body,
            ..Default::default()
        })
    }

    fn kept(body: &str) -> String {
        match verdict(body) {
            Verdict::Keep { statement, .. } => statement,
            v => panic!("{body:?} dropped: {v:?}"),
        }
    }

    fn dropped(body: &str) -> String {
        match verdict(body) {
            Verdict::Drop { reason } => reason,
            v => panic!("{body:?} kept: {v:?}"),
        }
    }

    #[test]
    fn keeps_norms_and_rewrites_them() {
        assert_eq!(
            kept("We don't call db.raw outside migrations."),
            "Don't call db.raw outside migrations."
        );
        assert_eq!(
            kept("Please use Money instead of f64 for amounts"),
            "Use Money instead of f64 for amounts."
        );
        assert_eq!(
            kept("nit: we always wrap errors with context here."),
            "Always wrap errors with context here."
        );
        assert_eq!(
            kept("Could you use `tracing` instead of println! here?"),
            "Use `tracing` instead of println! here."
        );
        assert_eq!(
            kept("Avoid unwrap() in library code, return a Result."),
            "Avoid unwrap() in library code, return a Result."
        );
        assert_eq!(kept("We should never log tokens."), "Never log tokens.");
        assert!(
            kept("Looks fine overall. Prefer `&str` over `String` in function arguments.")
                .starts_with("Prefer `&str`")
        );
    }

    #[test]
    fn drops_noise_with_a_reason() {
        assert_eq!(dropped("LGTM!"), "praise or acknowledgement");
        assert_eq!(dropped("Thanks!"), "praise or acknowledgement");
        assert_eq!(
            dropped("Why is this needed?"),
            "a question that states no norm"
        );
        assert_eq!(dropped("typo: recieve"), "a typo or wording nit");
        assert_eq!(
            dropped("Please rebase on main before merging."),
            "an instruction for this PR only"
        );
        assert_eq!(
            dropped("```suggestion\nlet total = Money::zero();\n```"),
            "a one-off suggestion block"
        );
        assert_eq!(
            dropped("This looks a bit odd to me."),
            "states no reusable norm"
        );
        let bot = CommentFacts {
            body: "We never merge red builds.",
            is_bot: true,
            ..Default::default()
        };
        assert!(matches!(classify(&bot), Verdict::Drop { .. }));
        let author = CommentFacts {
            body: "We always do this.",
            is_pr_author: true,
            ..Default::default()
        };
        assert!(matches!(classify(&author), Verdict::Drop { .. }));
        assert!(is_retraction("Never mind, you're right."));
        assert_eq!(
            dropped("Never mind, this is a migration."),
            "takes an earlier comment back"
        );
        assert_eq!(
            kept("Use Money, not f64, for billing amounts."),
            "Use Money, not f64, for billing amounts."
        );
        assert!(!is_retraction("Never use unwrap here."));
    }
}
