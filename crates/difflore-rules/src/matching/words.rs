//! The words the matching engine compares: code identifiers split into words on both the rule
//! side and the change side (`parse_http_header_err` → parse, http, header, error;
//! `PaymentRetryScheduler` → payment, retry, scheduler, and the whole identifier, which is how
//! the full-text index holds it), common abbreviations written out (err → error, cfg → config),
//! stopwords dropped, words every piece of code is full of marked *weak*, and a path's own words
//! (`billing/refund.py` → billing, refund) — what a change is about often shows in its path.

use std::collections::HashSet;

/// English function words and language keywords: they never say which rule applies.
const STOPWORDS: &str = "\
    the and for not but are was this that with from you your our its has have had will would \
    should can could into than then there their they them what when where which who why how \
    all each use used using via let mut pub self const var def else true false null none nil \
    please also just like here these those some more only other instead never always don \
    does did doesn isn aren make sure one two per fn impl struct enum async await match \
    import export public private protected static void int bool usize isize i32 i64 u8 u32 \
    u64 f32 vec elif begin end done while loop break continue package func final val fun \
    override abstract extends implements interface namespace include define typedef sizeof \
    char long short unsigned signed double float lambda yield pass raise try catch finally \
    throw throws except";

/// Words every piece of code (and many statements) is full of: a match on one says little, so
/// each weighs [`WEAK`] of a telling word.
const WEAK_WORDS: &str = "\
    value values error errors data name names type types file files result results string \
    strings list item items get set new object function functions method methods class code \
    return returns call calls input output param parameter parameters argument arguments \
    option options default state status id ids key keys map len length size count index \
    number text line lines field fields info message time date path user users request \
    response handle handler process run check create update delete load read write open \
    close start stop init test tests case cases iter sum collect clone format parse config \
    context app main src lib util utils helper helpers model models service services client \
    server api http json db database table query row rows column columns event events log \
    logs first last add remove find build base module modules variable variables change \
    changes way thing things place every need needs";

/// How much a weak word weighs against a telling one.
pub const WEAK: f64 = 0.3;

/// Abbreviations written out, on both sides, so `cfg` meets `config`.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("err", "error"),
    ("errs", "errors"),
    ("cfg", "config"),
    ("conf", "config"),
    ("ctx", "context"),
    ("msg", "message"),
    ("msgs", "messages"),
    ("req", "request"),
    ("resp", "response"),
    ("arg", "argument"),
    ("args", "arguments"),
    ("param", "parameter"),
    ("params", "parameters"),
    ("env", "environment"),
    ("repo", "repository"),
    ("dir", "directory"),
    ("tmp", "temporary"),
    ("num", "number"),
    ("idx", "index"),
    ("buf", "buffer"),
    ("ptr", "pointer"),
    ("auth", "authentication"),
    ("impl", "implementation"),
    ("db", "database"),
    ("txn", "transaction"),
    ("tx", "transaction"),
    ("fmt", "format"),
    ("addr", "address"),
    ("alloc", "allocate"),
    ("attr", "attribute"),
    ("attrs", "attributes"),
    ("btn", "button"),
    ("str", "string"),
    ("len", "length"),
    ("calc", "calculate"),
    ("util", "utility"),
    ("utils", "utilities"),
    ("lang", "language"),
    ("perm", "permission"),
    ("perms", "permissions"),
    ("cnt", "count"),
    ("pkg", "package"),
    ("deps", "dependencies"),
    ("dep", "dependency"),
];

/// Directory names that say nothing about a change.
const GENERIC_DIRS: &str = "\
    src lib pkg internal app apps main java kotlin com org cmd source sources www github \
    gitlab include resources res";

/// A light English stem that makes a word's forms meet: `values`/`value` → `valu`,
/// `retries` → `retry`, `classes` → `class`, `parsing`/`parsed`/`parse` → `pars`,
/// `logging` → `log`. (Clustering keeps its own, older stem: its signatures are stored.)
pub fn stem(w: &str) -> String {
    let n = w.len();
    let mut s: &str = w;
    let owned;
    if n > 4 && (w.ends_with("ies") || w.ends_with("ied")) {
        owned = format!("{}y", &w[..n - 3]);
        s = &owned;
    } else if n > 4
        && w.ends_with("es")
        && ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|e| w[..n - 2].ends_with(e))
    {
        s = &w[..n - 2];
    } else if n > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        s = &w[..n - 1];
    } else if n > 6 && w.ends_with("ing") {
        s = &w[..n - 3];
    } else if n > 5 && w.ends_with("ed") && !w.ends_with("eed") {
        s = &w[..n - 2];
    }
    let mut out = s.to_string();
    // A doubled final consonant left by -ing/-ed (`logg` → `log`).
    let b = out.as_bytes();
    if out.is_ascii()
        && out.len() > 3
        && s.len() < w.len()
        && b[b.len() - 1] == b[b.len() - 2]
        && !b"aeiouls".contains(&b[b.len() - 1])
    {
        out.pop();
    }
    if out.len() > 4 && out.ends_with('e') {
        out.pop();
    }
    out
}

/// One word with its stem and weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub word: String,
    pub stem: String,
    /// 1 for a telling word, [`WEAK`] for a common one.
    pub weight: f64,
    /// Seen on its own at least once — a keyword, a call, a whole identifier, a path word — not
    /// only as a fragment of a longer identifier (`aws` of `aws_s3_bucket`).
    pub whole: bool,
    /// Written as code at least once (a rule naming an API: never a weak word then).
    pub code: bool,
}

/// A word list written as one string, as a set.
fn set_of(list: &'static str) -> HashSet<&'static str> {
    list.split_whitespace().collect()
}

static STOP: std::sync::LazyLock<HashSet<&'static str>> =
    std::sync::LazyLock::new(|| set_of(STOPWORDS));
static GENERIC: std::sync::LazyLock<HashSet<&'static str>> =
    std::sync::LazyLock::new(|| set_of(GENERIC_DIRS));

fn is_stopword(w: &str) -> bool {
    STOP.contains(w)
}

/// The stems of [`WEAK_WORDS`]: a word is weak in any of its forms (`parsed` as `parse`).
static WEAK_STEMS: std::sync::LazyLock<HashSet<String>> =
    std::sync::LazyLock::new(|| WEAK_WORDS.split_whitespace().map(stem).collect());

fn weight_of(w: &str) -> f64 {
    if WEAK_STEMS.contains(&stem(w)) {
        WEAK
    } else {
        1.0
    }
}

fn expand(w: &str) -> &str {
    ABBREVIATIONS
        .iter()
        .find(|(short, _)| *short == w)
        .map_or(w, |(_, long)| long)
}

/// The parts of one alphanumeric run split at case changes: `parseHTTPHeader` → parse, HTTP,
/// Header; `PaymentRetryScheduler` → Payment, Retry, Scheduler.
fn camel_parts(run: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (pos, c) = chars[i];
        let prev = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|(_, n)| n.is_lowercase());
        let boundary = (c.is_uppercase() && prev.is_lowercase())
            || (c.is_uppercase() && prev.is_uppercase() && next_lower)
            || (c.is_alphabetic() && prev.is_ascii_digit() && i - start > 1);
        if boundary {
            parts.push(&run[start..pos]);
            start = pos;
        }
    }
    parts.push(&run[start..]);
    parts
}

/// Collects words in first-seen order, one per stem, at most `max`.
struct Collector {
    out: Vec<Word>,
    seen: std::collections::HashMap<String, usize>,
    max: usize,
    /// Every word counts as whole (a path's words name its topic).
    all_whole: bool,
    /// The token being pushed is written as code (see [`code_styled`]).
    code: bool,
}

/// Whether the token at `text[s..e]` is written as code: `.clone()`, `arr.length`, `` `get` ``,
/// `println!`, `@Valid`, `Foo::bar` — a rule that names an API that way means that API, even
/// when the word is a common one.
fn code_styled(text: &str, s: usize, e: usize) -> bool {
    let before = text[..s].chars().next_back();
    let mut after = text[e..].chars();
    let next = after.next();
    let next2 = after.next();
    matches!(before, Some('.' | '`' | '@' | '#' | '$' | ':'))
        || matches!(next, Some('(' | '!' | '`'))
        || (next == Some('.') && next2.is_some_and(char::is_alphanumeric))
        || (next == Some(':') && next2 == Some(':'))
}

impl Collector {
    fn new(max: usize) -> Self {
        Collector {
            out: Vec::new(),
            seen: std::collections::HashMap::new(),
            max,
            all_whole: false,
            code: false,
        }
    }

    fn push(&mut self, raw: &str, whole: bool) {
        // Most words are already lower-case ASCII: no allocation for them.
        let lower: std::borrow::Cow<'_, str> = if raw.bytes().any(|b| !b.is_ascii_lowercase()) {
            std::borrow::Cow::Owned(raw.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(raw)
        };
        let lower = lower.as_ref();
        let w = expand(lower);
        if w.chars().count() < 3
            || w.chars().all(|c| c.is_ascii_digit())
            || w.chars().filter(|c| c.is_ascii_digit()).count() * 2 > w.len()
            || is_stopword(w)
            || is_stopword(lower)
        {
            return;
        }
        let stem = stem(w);
        let whole = whole || self.all_whole;
        if let Some(&i) = self.seen.get(&stem) {
            self.out[i].whole |= whole;
            if self.code {
                self.out[i].code = true;
                self.out[i].weight = 1.0;
            }
            return;
        }
        if self.out.len() >= self.max {
            return;
        }
        self.seen.insert(stem.clone(), self.out.len());
        let weak = WEAK_STEMS.contains(&stem) || (lower != w && weight_of(lower) < 1.0);
        self.out.push(Word {
            word: w.to_string(),
            stem,
            weight: if weak && !self.code { WEAK } else { 1.0 },
            whole,
            code: self.code,
        });
    }

    /// Every identifier-like token of `text` (letters, digits, `_`): its parts split at `_` and
    /// case changes, then — for a split identifier — the whole token, as one word.
    fn text(&mut self, text: &str) {
        let mut start: Option<usize> = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            let in_token = c.is_alphanumeric() || c == '_';
            match (start, in_token) {
                (None, true) => start = Some(i),
                (Some(s), false) => {
                    self.code = code_styled(text, s, i);
                    self.token(&text[s..i]);
                    start = None;
                }
                _ => {}
            }
        }
        self.code = false;
    }

    fn token(&mut self, token: &str) {
        let parts: Vec<&str> = token
            .split('_')
            .filter(|p| !p.is_empty())
            .flat_map(camel_parts)
            .collect();
        match parts.len() {
            0 => {}
            1 => self.push(parts[0], true),
            _ => {
                for p in &parts {
                    self.push(p, false);
                }
                self.push(&token.replace('_', ""), true);
            }
        }
    }
}

/// Words of free text or code, in first-seen order, one per stem, at most `max`.
pub fn words(text: &str, max: usize) -> Vec<Word> {
    let mut c = Collector::new(max);
    c.text(text);
    c.out
}

/// A path's own words: its directories (less the generic ones) and its file name without the
/// extension, split like identifiers. `tests/orders/test_checkout_flow.py` → tests, orders,
/// checkout, flow (`test` shares the stem of `tests`).
pub fn path_words(path: &str) -> Vec<Word> {
    let mut c = Collector::new(16);
    c.all_whole = true;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if !last && GENERIC.contains(seg.to_lowercase().as_str()) {
            continue;
        }
        // The file's extension names its language, which the glob already weighed.
        let name = if last {
            match seg.rsplit_once('.') {
                Some((stem, _)) if !stem.is_empty() => stem,
                _ => seg,
            }
        } else {
            seg
        };
        c.text(name);
    }
    c.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(ws: &[Word]) -> Vec<&str> {
        ws.iter().map(|w| w.word.as_str()).collect()
    }

    #[test]
    fn identifiers_split_on_case_and_underscores() {
        let ws = words("parse_http_header_err(x)", 48);
        assert_eq!(
            plain(&ws),
            vec!["parse", "http", "header", "error", "parsehttpheadererr"]
        );
        assert!(!ws[0].whole && ws[4].whole);
        // A fragment seen on its own later is whole.
        assert!(words("aws_s3_bucket aws", 48)[0].whole);
        assert!(!words("aws_s3_bucket", 48)[0].whole);
        assert_eq!(
            plain(&words("let s = PaymentRetryScheduler::default();", 48))[..4],
            ["payment", "retry", "scheduler", "paymentretryscheduler"]
        );
        assert_eq!(
            plain(&words("parseHTTPHeader", 48)),
            vec!["parse", "http", "header", "parsehttpheader"]
        );
    }

    #[test]
    fn abbreviations_stopwords_and_weights() {
        let ws = words("let cfg = load_cfg(ctx); the value 42", 48);
        assert_eq!(
            plain(&ws),
            vec!["config", "load", "loadcfg", "context", "value"]
        );
        assert_eq!(ws[4].weight, WEAK);
        assert_eq!(words("read the config first", 48)[1].weight, WEAK);
        // Each line of the lists ends between two words, not inside one.
        for w in ["would", "should", "throws", "except", "needs", "include"] {
            assert!(
                is_stopword(w) || WEAK_STEMS.contains(&stem(w)) || GENERIC.contains(w),
                "{w}"
            );
        }
        assert_eq!(words("unwrap", 48)[0].weight, 1.0);
        // One word per stem, and the cap holds.
        assert_eq!(plain(&words("rows row Rows", 48)), vec!["rows"]);
        assert_eq!(words("alpha beta gamma delta", 2).len(), 2);
    }

    #[test]
    fn a_common_word_written_as_code_is_telling() {
        for text in [
            "Don't call .clone() in a loop",
            "use `clone` sparingly",
            "prefer Rc::clone over deep copies",
            "never rows.clone.iter",
        ] {
            let w = words(text, 48);
            let clone = w.iter().find(|w| w.word == "clone").unwrap();
            assert!(clone.code && clone.weight == 1.0, "{text}: {clone:?}");
        }
        for text in ["clone it. Then go", "a clone, then"] {
            let clone = words(text, 48)
                .into_iter()
                .find(|w| w.word == "clone")
                .unwrap();
            assert!(!clone.code && clone.weight == WEAK, "{text}: {clone:?}");
        }
    }

    #[test]
    fn stems_meet_across_forms() {
        for (a, b) in [
            ("values", "value"),
            ("parsing", "parse"),
            ("parsed", "parse"),
            ("retries", "retry"),
            ("classes", "class"),
            ("logging", "log"),
            ("tests", "test"),
            ("dockerfiles", "dockerfile"),
            ("mapped", "map"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} {b}");
        }
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("string"), "string");
        assert_ne!(stem("cache"), stem("cast"));
    }

    #[test]
    fn a_path_says_what_a_change_is_about() {
        assert_eq!(
            plain(&path_words("billing/refund.py")),
            vec!["billing", "refund"]
        );
        assert_eq!(
            plain(&path_words("tests/orders/test_checkout_flow.py")),
            vec!["tests", "orders", "checkout", "flow", "testcheckoutflow"]
        );
        assert_eq!(
            plain(&path_words("src/main/java/com/acme/data/OrderDao.kt")),
            vec!["acme", "data", "order", "dao", "orderdao"]
        );
        assert_eq!(
            plain(&path_words("services/api/Dockerfile")),
            vec!["services", "api", "dockerfile"]
        );
    }
}
