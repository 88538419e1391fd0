//! The named features a review comment is scored on, each with its weight. A sentence's *shape*
//! (use X instead of Y, always/never, prefer/avoid, an imperative, a general subject with
//! should/must — or a bug, a behaviour described with "always", a local name) and the comment's
//! *reach* (the team's practice, a style guide, "like the rest of the codebase" — or this PR
//! only, a rename, a test for this case) add up; the thread and the file the comment points at
//! adjust it. A comment states a convention when its score reaches [`THRESHOLD`]. Weights were
//! set on the development part of the labelled set (`tests/extraction/`) only.

use regex::Regex;
use std::sync::OnceLock;

/// The score at which a comment states a reusable convention.
pub const THRESHOLD: f64 = 1.0;
/// A comment this close below the threshold is kept when the same point was made in another PR.
pub const BORDERLINE: f64 = 0.45;
/// What "said in another PR too" adds.
pub const SAID_ELSEWHERE: f64 = 0.6;

/// One feature that fired, with its weight.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub name: &'static str,
    pub weight: f64,
}

/// A regex from a constant pattern (a pattern that fails to compile matches nothing).
pub(crate) fn re(p: &str) -> Regex {
    Regex::new(p).unwrap_or_else(|_| Regex::new("$^").expect("empty regex"))
}

/// A regex-backed feature.
struct Rx {
    name: &'static str,
    weight: f64,
    re: Regex,
}

fn rx(name: &'static str, weight: f64, p: &str) -> Rx {
    Rx {
        name,
        weight,
        re: re(p),
    }
}

struct Table {
    /// Features of one sentence's shape.
    shape: Vec<Rx>,
    /// Features of the whole comment's reach.
    reach: Vec<Rx>,
    always_never: Regex,
    behaviour: Regex,
    behaviour_is: Regex,
    modal_subject: Regex,
    not_a_norm: Regex,
    imperative: Regex,
    please_imperative: Regex,
    person_always: Regex,
    plural_object: Regex,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table {
        shape: vec![
            rx("says X instead of Y", 0.6, r"(?i)\b(instead of|rather than)\b|\w+,? not (a |an |the )?(bare |raw |plain )?[`\w]|\bover `|\bno `"),
            rx("says prefer/avoid", 1.0, r"(?i)\b(prefer|avoid|(have|has) a preference)\b"),
            rx("says must", 0.5, r"(?i)\b(must|mustn't|shall)\b"),
            rx("says don't", 0.8, r"(?i)(^|[.!?:;—]\s+|\bplease,?\s+|\bpls\s+)(do not|don't|dont|never)\b|^not\s+(use|call|add|put|do|write|rely|mix)\b"),
            rx("says where it belongs", 0.6, r"(?i)\b(belongs? (in|to)|lives? in|goes? (in|into|through|to)|go through|should go|stay(s)? thin|out of (the )?\w+s\b)"),
            rx("speaks of every case", 0.4, r"(?i)\b(every|all|each|any|anything|everything|whenever|every time|all of them)\b"),
            rx("a condition for every case", 0.5, r"(?i)^(when|whenever|if) (you|we)\b"),
            rx("reports a bug", -0.6, r"(?i)\b(crash(es|ed)?|panics?|leaks?|bug|broken|doesn't compile|off[- ]by[- ]one|silently fails|is lost|twice|unset|stale|is missing|isn't (checked|closed|set)|not checked|wrong)\b"),
            rx("a reminder for this spot", -1.2, r"(?i)\b(don't forget|forgot|you missed|missing (a |the )?(test|case|check))"),
            rx("points at one spot", -0.4, r"(?i)\b(this line|line \d+|this one|on the next line|above|below|this (function|method|closure|loop|file|test|case|variable|call)|at the top of this)\b"),
            rx("a question asking for information", -1.0, r"(?i)^(why|what|how|which|where|when|who|is|are|was|were|does|did|do you|do we know|will|has|have|isn't|won't|doesn't|didn't)\b[^?]*\?\s*$"),
            rx("renames one name", -1.2, r"(?i)(^|\s)(rename|`[^`]+`\s*(→|->|to)\s*`[^`]+`|could just be `|is a bit cryptic)"),
            rx("asks for a test of this change", -1.2, r"(?i)\b(add (a |an )?(test|spec|case)|test (for|where|with) the|missing the \w+ case)\b"),
            rx("a leftover", -1.5, r"(?i)\b(leftover|debug print|remove (the )?print|dbg!|console\.log|used for testing)\b"),
            rx("removes something here", -1.0, r"(?i)\b(can be removed|remove this|drop the [\w ]+ changes|revert the|undo the)\b"),
            rx("a typo or wording nit", -1.5, r"(?i)\b(typo|spelling|misspel\w*|grammar|rephrase|reword|wording)\b|^nit:?\s*(extra blank line|trailing whitespace|unused import|new ?line)|^new line at end of file"),
        ],
        reach: vec![
            rx("the team's practice", 1.0, r"(?i)\b(the rest of (the|our|this) [\w ]{1,20}|everywhere|every other|all (the )?other|everything else|like (the|our|every|all) other|as the other|the other [\w ]{1,20} do\b|like we do|like in the rest|elsewhere|throughout|across the (codebase|project|repo|app|crate)|in this (codebase|project|repo|crate|package)|(whole|entire) (project|codebase|app|crate)|in all the \w+|project-wide|codebase-wide|as a rule|by convention|our (\w+ )?(convention|conventions|guideline|guidelines|guide|style|rule|rules|standard|standards|config)|is our rule|we agreed|agreed in (the )?team|for the future|going forward|from now on|in general|in new code|for the record|reminder for everyone|small reminder|remember our|it's how we|is how we|for everyone)\b|(^|[.!?]\s+)generally,?\s"),
            rx("states what the team does", 1.2, r"(?i)\bwe (usually|generally|normally|typically|always|never|don't|do not|dont|prefer|avoid|tend to|agreed|try to|pin|keep|follow|only|are not using|are using only|mark|should (never|always|not|avoid|prefer))\b|(^|[.!?:;—]\s+|^(for|in|on|across|throughout|with) [^,;.]{1,40},? |\b(i think|i believe|i'd say|maybe) )we (use|put|return|name|write|cast|are (always )?(using|adding|keeping|writing)|do like)\b|\b\w+s (here )?(don't|do not|never) \w+"),
            rx("cites a style guide", 1.0, r"(?i)\b(style ?guide|guidelines?|coding (conventions?|style)|conventions? doc|contributing guide|migration guide|API (design )?guidelines|Effective Go|PSR-\d+|PEP ?8|rubocop|credo|docs recommend|per the|following the)\b"),
            rx("an instruction for this PR only", -1.5, r"(?i)\b(this pr|the pr|in this pr|pull request|before (we |i can )?merg\w*|rebase|squash|split (this|the)|ci is|the lock ?file|lock file|changelog|unrelated|fixup commits|build succeeds|re-?run|bump the (package )?version|the workflow file too|release pr)\b"),
        ],
        always_never: re(r"(?i)\b(always|never)\b"),
        // "this always returns nil", "the timer always fires": a subject that is not a person,
        // then always/never and a verb in the third person.
        behaviour: re(r"(?i)(^|[^\w])(this|that|it|the [\w`.()]+|`[^`]+`|[\w]+)\s+(always|never)\s+(\w+(s|es|ed)|re-\w+s)\b"),
        behaviour_is: re(r"(?i)\b(is|are|was|were|gets|got)\s+(always|never)\s+\w+"),
        modal_subject: re(r"(?i)^(?P<subj>[^,;:—?]{1,60}?)\s+(should(n't| not)?|must(n't| not)?|need to|has to|have to)\b"),
        not_a_norm: re(r"(?i)\b(do not|don't|dont)\s+(have|know|think|mind|see|care|worry|understand|remember|get|feel|believe)\b"),
        imperative: re(r"(?i)^(use|keep|put|write|wrap|pin|tag|name|mark|move|extract|return|throw|accept|pass|localize|localise|inject|drop|call|log|check|quote|prefer|avoid|always|never|don't|do not|dont|make sure|go through|bind|batch|hold|tie|take|run|store|validate|close|cast|follow|split|group|declare|give)\b"),
        please_imperative: re(r"(?i)\bplease,?\s+(use|keep|put|take|hold|tie|bind|batch|move|wrap|pin)\b"),
        person_always: re(r"(?i)\b(we|you|i|they|please|should|must|will)\s+(\w+\s+)?(always|never)\b|^(always|never)\b"),
        plural_object: re(r"(?i)^\w+\s+(\w+\s+)?(\w{3,}[^s\W]s)\b"),
    })
}

/// The sentence without leading hedges, politeness, addressing and labels ("nit:", "I think",
/// "could we", "please") — what the shape features and the statement read.
pub fn strip_lead(s: &str) -> String {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = R.get_or_init(|| {
        re(r"(?i)^(\s*(nit|nitpick|minor|suggestion|optional|style|fyi|issue|important|blocking|note|for the future|for the record|small reminder|reminder( for everyone)?|just remember our convention|remember|as a rule|in general|generally|not a blocker,? but|maybe it's just me,? but|hmm+|also|btw|so)\s*[:,\-]?\s+|\s*(please,?|pls|kindly|i think|i believe|i'd say|i would say|imo,?|imho,?|in my opinion,?|maybe|perhaps|probably|could you|can you|would you mind|let's|let us)\s+)+")
    });
    let mut out = s.trim().to_string();
    for _ in 0..4 {
        let t = r.replace(&out, "").to_string();
        if t == out {
            break;
        }
        out = t;
    }
    out
}

/// The features one sentence's shape fires.
pub fn shape(sentence: &str) -> Vec<Hit> {
    let t = table();
    let s = strip_lead(sentence);
    // "don't have a strong preference", "I don't think so": not what a team does.
    let not_a_norm = t.not_a_norm.is_match(&s);
    let mut hits: Vec<Hit> = t
        .shape
        .iter()
        .filter(|f| !(not_a_norm && matches!(f.name, "says don't" | "says prefer/avoid")))
        .filter(|f| f.re.is_match(&s))
        .map(|f| Hit {
            name: f.name,
            weight: f.weight,
        })
        .collect();
    if t.always_never.is_match(&s) {
        let person = t.person_always.is_match(&s);
        if !person && (t.behaviour.is_match(&s) || t.behaviour_is.is_match(&s)) {
            hits.push(Hit {
                name: "describes behaviour with always/never",
                weight: -1.4,
            });
        } else {
            hits.push(Hit {
                name: "says always/never",
                weight: 0.9,
            });
        }
    }
    if let Some(c) = t.modal_subject.captures(&s) {
        let subj = c.name("subj").map_or("", |m| m.as_str()).trim();
        let first = subj
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let local = subj.starts_with('`')
            || matches!(
                first.as_str(),
                "this" | "that" | "it" | "the" | "these" | "those" | "you" | "there" | "i"
            );
        if local {
            hits.push(Hit {
                name: "should/must about this code",
                weight: -1.0,
            });
        } else if first != "we" && !subj.is_empty() {
            hits.push(Hit {
                name: "should/must for a kind of thing",
                weight: 0.6,
            });
        }
    }
    if t.imperative.is_match(&s) {
        hits.push(Hit {
            name: "an imperative",
            weight: 0.7,
        });
        if t.plural_object.is_match(&s) {
            hits.push(Hit {
                name: "about a kind of thing (plural)",
                weight: 0.3,
            });
        }
    } else if t.please_imperative.is_match(sentence) {
        hits.push(Hit {
            name: "an imperative",
            weight: 0.7,
        });
    }
    if s.contains('`') {
        hits.push(Hit {
            name: "names code",
            weight: 0.1,
        });
    }
    hits
}

/// The features the whole comment's reach fires.
pub fn reach(text: &str) -> Vec<Hit> {
    table()
        .reach
        .iter()
        .filter(|f| f.re.is_match(text))
        .map(|f| Hit {
            name: f.name,
            weight: f.weight,
        })
        .collect()
}

/// What the file a comment points at says: a generated or lock file is nobody's convention.
pub fn path(path: Option<&str>) -> Vec<Hit> {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = R.get_or_init(|| {
        re(r"(?i)(^|/)(generated|gen|vendor|node_modules|dist)/|\.(pb\.go|g\.dart|min\.js|lock|pbxproj)$|_pb2\.py$|(^|/)(package-lock\.json|go\.sum|yarn\.lock|Cargo\.lock)$")
    });
    match path {
        Some(p) if r.is_match(p) => vec![Hit {
            name: "points at a generated or lock file",
            weight: -1.0,
        }],
        _ => Vec::new(),
    }
}

/// The sum of the weights.
pub fn total(hits: &[Hit]) -> f64 {
    hits.iter().map(|h| h.weight).sum()
}
