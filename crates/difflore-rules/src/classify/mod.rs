//! Does a review comment state a reusable convention? A deterministic, explainable decision:
//! hard drops first (bots, the PR author's own comments, comments taken back, praise, one-off
//! `suggestion` blocks without prose), then a score from named, weighted features
//! ([`features`]): the shape of its strongest sentence, the reach of the whole comment, what the
//! thread did with it and the file it points at. Every verdict carries its reason and, for
//! `extract --explain`, every feature that fired. A kept comment's strongest sentence becomes an
//! imperative statement ([`statement`]).

pub mod features;
pub mod statement;

use features::{BORDERLINE, Hit, THRESHOLD, re};
use regex::Regex;
use std::sync::OnceLock;

/// What the rest of the thread did with a comment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thread {
    /// The PR author answered "done", "fixed", "good point"…
    pub author_agreed: bool,
    /// The PR author answered with a reason not to ("intentional", "on purpose"…).
    pub author_pushed_back: bool,
    /// The reviewer let it go after a reply ("fair enough", "makes sense, keep it").
    pub reviewer_conceded: bool,
}

/// What the classifier needs to know about one comment.
#[derive(Debug, Clone, Default)]
pub struct CommentFacts<'a> {
    pub body: &'a str,
    pub is_bot: bool,
    pub is_pr_author: bool,
    /// The same author took it back later in the thread.
    pub retracted: bool,
    /// The file the comment is on.
    pub path: Option<&'a str>,
    pub thread: Thread,
}

/// The decision, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep { statement: String, reason: String },
    Drop { reason: String },
}

/// The decision with everything that led to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// The sum of the features' weights (0 for a hard drop).
    pub score: f64,
    /// Every feature that fired, strongest sentence and comment together.
    pub hits: Vec<Hit>,
    /// For a comment just below the threshold: the statement it would make, so that the same
    /// point made in another PR can carry it over (`extract`).
    pub borderline: Option<String>,
}

struct Patterns {
    suggestion: Regex,
    code_block: Regex,
    quote: Regex,
    praise: Regex,
    agreed: Regex,
    pushback: Regex,
    conceded: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        suggestion: re(r"(?s)```suggestion[^\n]*\n.*?```"),
        code_block: re(r"(?s)```.*?```"),
        quote: re(r"(?m)^\s*>.*$"),
        praise: re(r"(?i)^(\s*(lgtm|looks (good|great|nice)( to me)?|much (better|cleaner)|nice( one| work| catch| cleanup| refactor)?|great( work| job| refactor)?|good (job|call|catch|point)|thanks?( you)?( so much)?( for the (pr|contribution|changes|pointer))?|thx|ty|awesome|perfect|cool|done|fixed|agreed|approved|\+1|👍|🎉|🚀|✨|❤️|😸|😄|:\)|ship it|makes sense|i like it|love (it|this)|/lgtm|/approve|beautiful)[\s!.,:)]*)+$"),
        agreed: re(r"(?i)^\s*(done|fixed|added|updated|removed|changed|sure|good (point|catch|call)|agreed|will do|you're right)\b"),
        pushback: re(r"(?i)\b(intentional(ly)?|deliberate(ly)?|on purpose|by design|i disagree|won't fix|has to be|needs to stay|is required)\b"),
        conceded: re(r"(?i)^\s*(ah,? )?(ok,? |okay,? )?(fair( enough)?|makes sense|got it|right,|no strong preference|keep it|leave it|ok,? keep)"),
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
    statement::rewrite(sentence)
}

/// Reads a reply: did the PR author agree or push back, did the reviewer let it go?
pub fn read_reply(thread: &mut Thread, body: &str, by_pr_author: bool, by_reviewer: bool) {
    let p = patterns();
    if by_pr_author {
        if p.agreed.is_match(body) {
            thread.author_agreed = true;
        }
        if p.pushback.is_match(body) {
            thread.author_pushed_back = true;
        }
    } else if by_reviewer && p.conceded.is_match(body) {
        thread.reviewer_conceded = true;
    }
}

fn hard_drop(reason: &str) -> Judgement {
    Judgement {
        verdict: Verdict::Drop {
            reason: reason.to_string(),
        },
        score: 0.0,
        hits: Vec::new(),
        borderline: None,
    }
}

fn thread_hits(t: &Thread) -> Vec<Hit> {
    let mut hits = Vec::new();
    if t.reviewer_conceded {
        hits.push(Hit {
            name: "the reviewer let it go in the thread",
            weight: -2.0,
        });
    } else if t.author_pushed_back {
        hits.push(Hit {
            name: "the author pushed back",
            weight: -0.3,
        });
    }
    if t.author_agreed {
        hits.push(Hit {
            name: "the author agreed or fixed it",
            weight: 0.2,
        });
    }
    hits
}

/// Why a comment below the threshold was dropped: its strongest negative feature, else the
/// shape it lacked.
fn drop_reason(hits: &[Hit], text: &str, had_suggestion: bool) -> String {
    let worst = hits
        .iter()
        .filter(|h| h.weight < 0.0)
        .min_by(|a, b| a.weight.total_cmp(&b.weight));
    match worst {
        Some(h) => match h.name {
            "a typo or wording nit" => "a typo or wording nit".into(),
            "an instruction for this PR only" => "an instruction for this PR only".into(),
            "a question asking for information" => "a question that states no norm".into(),
            n => n.to_string(),
        },
        None if had_suggestion => "a one-off suggestion block".into(),
        None if text.trim_end().ends_with('?') => "a question that states no norm".into(),
        None => "states no reusable norm".into(),
    }
}

/// Judges one comment, with every feature that fired.
pub fn judge(c: &CommentFacts<'_>) -> Judgement {
    if c.is_bot {
        return hard_drop("written by a bot");
    }
    if c.is_pr_author {
        return hard_drop("the PR author's own comment");
    }
    if c.retracted {
        return hard_drop("retracted later in the thread");
    }
    if is_retraction(c.body) {
        return hard_drop("takes an earlier comment back");
    }
    let p = patterns();
    let (text, had_suggestion) = prose(c.body);
    if text.is_empty() {
        return hard_drop(if had_suggestion {
            "a one-off suggestion block"
        } else {
            "no prose"
        });
    }
    if p.praise.is_match(&text) {
        return hard_drop("praise or acknowledgement");
    }
    // The strongest sentence (the first of equals), after praise in front of it is set aside.
    let mut best: Option<(f64, String, Vec<Hit>)> = None;
    for s in sentences(&text) {
        if p.praise.is_match(&s) {
            continue;
        }
        let hits = features::shape(&s);
        let total = features::total(&hits);
        if best.as_ref().is_none_or(|(t, _, _)| total > *t) {
            best = Some((total, s, hits));
        }
    }
    let Some((_, sentence, mut hits)) = best else {
        return hard_drop("praise or acknowledgement");
    };
    hits.extend(features::reach(&text));
    hits.extend(features::path(c.path));
    hits.extend(thread_hits(&c.thread));
    let score = (features::total(&hits) * 100.0).round() / 100.0;
    if score >= THRESHOLD {
        let statement = statement::rewrite(&sentence);
        if statement.split_whitespace().count() >= 3 {
            let mut pos: Vec<&Hit> = hits.iter().filter(|h| h.weight > 0.0).collect();
            pos.sort_by(|a, b| b.weight.total_cmp(&a.weight));
            let mut reason = pos
                .iter()
                .take(2)
                .map(|h| h.name)
                .collect::<Vec<_>>()
                .join(", ");
            if sentence.trim_end().ends_with('?') {
                reason.push_str(" (as a question)");
            }
            return Judgement {
                verdict: Verdict::Keep { statement, reason },
                score,
                hits,
                borderline: None,
            };
        }
    }
    let borderline = (THRESHOLD - BORDERLINE..THRESHOLD)
        .contains(&score)
        .then(|| statement::rewrite(&sentence));
    Judgement {
        verdict: Verdict::Drop {
            reason: drop_reason(&hits, &text, had_suggestion),
        },
        score,
        hits,
        borderline,
    }
}

/// Classifies one comment.
pub fn classify(c: &CommentFacts<'_>) -> Verdict {
    judge(c).verdict
}

/// `true` when a reply takes the author's earlier comment back.
pub fn is_retraction(body: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| re(r"(?i)\b(never ?mind|ignore (this|that|me|my (previous|last) comment)|scratch that|my bad|disregard|i was wrong|i misread|you're right,? (it's|this is) fine|not an issue after all)\b"))
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
            "Always wrap errors with context."
        );
        assert_eq!(
            kept("Could you use `tracing` instead of println! here?"),
            "Use `tracing` instead of println!"
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
