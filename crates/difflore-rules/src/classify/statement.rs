//! From the sentence that carries a norm to the rule a person would write: hedges, politeness,
//! addressing and the PR's own references removed ("I think we usually prefer X here, like the
//! rest of the crate" → "Prefer X."), questions turned into imperatives ("Could we avoid default
//! exports?" → "Avoid default exports."), "we …" into the imperative, clauses about this one
//! spot dropped; code identifiers and the reason kept. The evidence keeps the original text.

use super::features::{re, strip_lead};
use regex::Regex;
use std::sync::OnceLock;

struct Rewrites {
    ask: Regex,
    source_lead: Regex,
    aside_tail: Regex,
    front: Regex,
    we: Vec<(Regex, &'static str)>,
    team_tail: Regex,
    here: Regex,
    local_clause: Regex,
}

fn rewrites() -> &'static Rewrites {
    static R: OnceLock<Rewrites> = OnceLock::new();
    R.get_or_init(|| Rewrites {
        ask: re(r"(?i)^(could|can|should|shouldn't|would|why don't|shall) we\s+|^does it make sense to\s+|^i would rather we\s+|^i do have a preference that we\s+"),
        source_lead: re(r"(?i)^((see|per|as per) )?(the |our )?[\w./ -]{0,30}(style guide|guidelines?|conventions? doc|coding style doc|contributing guide)( says| has it| recommends)?\s*[:,]?\s+(that\s+)?|^(it's )?better to\s+|^(dont|do not)\b|^i (will |would |'d )?(?P<p>prefer)\b"),
        aside_tail: re(r"(?i),\s*(this we agreed|we agreed|as agreed)[^,;.]*|,\s*[^,;.]{0,30}\bwe do (it )?(like )?(that|this|so)\b[^,;.]*|,\s*it's (the|our) (pattern|convention|way)[^,;.]*|,\s*please (add|do|convert|fix|change|update)\b[^;.]*|,?\s+not here\b|\s+for this(?P<end>[;,.]|$)"),
        front: re(r"(?i)^(?P<front>(for|in|on|across|throughout|with|following|per|according to) [^,;.—]{1,40}?),?\s+(?P<rest>we\s.*)$"),
        we: vec![
            (re(r"(?i)^we (usually|generally|normally|typically|tend to|try to|want to|should|must|agreed to|like to)\s+(always\s+)?"), ""),
            (re(r"(?i)^we (don't|do not|dont)\s+"), "Don't "),
            (re(r"(?i)^we are not using\s+"), "Don't use "),
            (re(r"(?i)^we never\s+"), "Never "),
            (re(r"(?i)^we always\s+"), "Always "),
            (re(r"(?i)^we are (always )?using (only )?"), "Use only "),
            (re(r"(?i)^we are (always )?writing\s+"), "Write "),
            (re(r"(?i)^we are (always )?adding\s+"), "Add "),
            (re(r"(?i)^we are (always )?keeping\s+"), "Keep "),
            (re(r"(?i)^we only\s+"), "Only "),
            (re(r"(?i)^we (prefer|avoid|use|keep|pin|put|return|name|write|mark|cast|follow|drop|dispatch)\s+"), "$1 "),
            (re(r"(?i)^you (should|must)\s+"), ""),
        ],
        team_tail: re(r"(?i),?\s*\b(like|as) (in )?((the rest of|the other|our other|every other|all other|all the other) (the |our |this )?[\w-]+( [\w-]+)?( in this \w+)?( do| does)?|everywhere( else)?( we [^,;.?!]*)?|we do( in the other [\w-]+)?)(?P<end>[,.;?!]|$| (instead|rather|so|because|not)\b)|,\s*(that's|which is|it's) (what|how) [^,;.?!]*"),
        here: re(r"(?i)\s+(here|in this pr|in this file|as well)\b"),
        local_clause: re(r"(?i)^(this|that|it's|it is|here|otherwise|please (add|do|convert)|that's what|which is what|is our rule|this we agreed|we translate|everything else|(move|put|change|fix|rename) this)\b"),
    })
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if !s.starts_with("I ") => f.to_lowercase().collect::<String>() + c.as_str(),
        Some(f) => f.to_string() + c.as_str(),
        None => String::new(),
    }
}

/// "we …" at the head of a clause in the imperative.
fn imperative_we(s: &str) -> String {
    for (r, to) in &rewrites().we {
        if r.is_match(s) {
            return capitalize(r.replace(s, *to).trim());
        }
    }
    s.to_string()
}

/// Clauses (split at `;`, ` — ` and `: ` before a lower-case word) that speak of this spot only
/// are dropped, unless nothing else is left.
fn drop_local_clauses(s: &str) -> String {
    let r = rewrites();
    // (separator before it, clause)
    let mut parts: Vec<(&str, String)> = Vec::new();
    let mut rest = s;
    let mut sep_before = "";
    loop {
        let colon = rest.match_indices(": ").find(|(i, _)| {
            rest[i + 2..]
                .chars()
                .next()
                .is_some_and(|c| c.is_lowercase())
        });
        let cut = ["; ", " — ", " - "]
            .iter()
            .filter_map(|sep| rest.find(sep).map(|i| (i, *sep)))
            .chain(colon)
            .min_by_key(|(i, _)| *i);
        match cut {
            Some((i, sep)) => {
                parts.push((sep_before, rest[..i].trim().to_string()));
                rest = &rest[i + sep.len()..];
                sep_before = sep;
            }
            None => {
                parts.push((sep_before, rest.trim().to_string()));
                break;
            }
        }
    }
    let mut kept: Vec<(&str, String)> = parts
        .into_iter()
        .enumerate()
        .filter(|(i, (_, p))| *i == 0 || !r.local_clause.is_match(p))
        .map(|(_, p)| p)
        .collect();
    // A first clause about this spot ("This await is missing X — in the SDK we never Y") gives
    // way to the general one after it.
    if kept.len() > 1 && r.local_clause.is_match(&kept[0].1) {
        kept.remove(0);
    }
    let mut out = String::new();
    for (i, (sep, p)) in kept.iter().enumerate() {
        if i > 0 {
            out.push_str(if *sep == ": " { ": " } else { sep });
        }
        out.push_str(p);
    }
    out
}

/// Rewrites the sentence that carries a norm into an imperative statement.
pub fn rewrite(sentence: &str) -> String {
    let r = rewrites();
    let mut s = strip_lead(sentence);
    s = r.aside_tail.replace_all(&s, "$end").to_string();
    let lower = s.to_ascii_lowercase();
    let dont = lower.starts_with("dont ") || lower.starts_with("do not ");
    s = r.source_lead.replace(&s, "$p").trim().to_string();
    if dont {
        s = format!("Don't {s}");
    }
    s = drop_local_clauses(&s);
    s = strip_lead(&s);
    s = r.ask.replace(&s, "").to_string();
    if let Some(c) = r.front.captures(&s) {
        let front = c.name("front").map_or("", |m| m.as_str());
        let rest = imperative_we(c.name("rest").map_or("", |m| m.as_str()));
        s = if front.to_ascii_lowercase().starts_with("in this ") {
            rest
        } else {
            format!("{}, {}", capitalize(front), lower_first(&rest))
        };
    } else {
        s = imperative_we(&s);
    }
    let untailed = r.team_tail.replace_all(&s, "$end").to_string();
    if untailed.split_whitespace().count() >= 3 {
        s = untailed;
    }
    s = r.here.replace_all(&s, "").to_string();
    let s = s
        .trim()
        .trim_end_matches(['?', '.', ',', ';', ':', '—', '-'])
        .trim()
        .to_string();
    let mut out = capitalize(&s);
    if out.chars().count() > 200 {
        out = out.chars().take(199).collect::<String>() + "…";
    }
    if !out.is_empty() && !out.ends_with(['…', '!']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn statements_read_like_rules() {
        let cases = [
            (
                "We don't call db.raw outside migrations.",
                "Don't call db.raw outside migrations.",
            ),
            (
                "nit: I think we usually prefer `&str` over `String` for parameters that are only read.",
                "Prefer `&str` over `String` for parameters that are only read.",
            ),
            (
                "Could we use `tracing::debug!` here like the rest of the crate instead of `println!`?",
                "Use `tracing::debug!` instead of `println!`.",
            ),
            ("Can we avoid default exports?", "Avoid default exports."),
            (
                "In the SDK we never resume on the caller's context.",
                "In the SDK, never resume on the caller's context.",
            ),
            (
                "I think in this codebase we usually prefer `with` over nested `case`.",
                "Prefer `with` over nested `case`.",
            ),
            (
                "Per the API guidelines we name conversions `to_*` when they allocate; this one allocates.",
                "Name conversions `to_*` when they allocate.",
            ),
            (
                "IMO we should keep styling in `.module.css` files rather than inline `style` props, that's what the rest of the app does.",
                "Keep styling in `.module.css` files rather than inline `style` props.",
            ),
            (
                "Please use Money instead of f64 for amounts",
                "Use Money instead of f64 for amounts.",
            ),
            (
                "For money we are not using float, it must be Decimal everywhere in this project.",
                "For money, don't use float, it must be Decimal everywhere in this project.",
            ),
        ];
        for (from, want) in cases {
            assert_eq!(rewrite(from), want, "from {from:?}");
        }
    }
}
