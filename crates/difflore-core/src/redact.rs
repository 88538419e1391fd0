//! The secret redactor: every piece of captured text (only stored when `capture.content` is on)
//! passes through it first. It masks API keys and tokens of the common services, private key
//! blocks, bearer tokens, JWTs, passwords in URLs and `password=`-style assignments, and e-mail
//! addresses. Patterns are compiled on first use only, never on the default capture path.

use regex::Regex;
use std::sync::OnceLock;

const MASK: &str = "[REDACTED]";

fn patterns() -> &'static [(Regex, &'static str)] {
    static P: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    P.get_or_init(|| {
        let specs: &[(&str, &str)] = &[
            // PEM private keys (whole block).
            (
                r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
                MASK,
            ),
            // Passwords in URLs: scheme://user:password@host
            (r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@", "${1}[REDACTED]@"),
            // Service tokens with well-known prefixes.
            (r"\bgh[pousr]_[A-Za-z0-9]{20,}\b", MASK),
            (r"\bgithub_pat_[A-Za-z0-9_]{20,}\b", MASK),
            (r"\bglpat-[A-Za-z0-9_\-]{20,}\b", MASK),
            (r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}\b", MASK),
            (r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b", MASK),
            (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", MASK),
            (r"\bAIza[0-9A-Za-z_\-]{35}\b", MASK),
            (r"\bnpm_[A-Za-z0-9]{36}\b", MASK),
            // JWTs.
            (r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\b", MASK),
            // Authorization: Bearer <token>
            (r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9_\-.=+/]{16,}", "${1} [REDACTED]"),
            // key = value assignments of secrets.
            (
                r#"(?i)\b([a-z0-9_\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key)[a-z0-9_\-]*["']?\s*[:=]\s*["']?)[^\s"',;]{4,}"#,
                "${1}[REDACTED]",
            ),
            // E-mail addresses.
            (r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b", "[EMAIL]"),
        ];
        specs
            .iter()
            .filter_map(|(re, rep)| Regex::new(re).ok().map(|r| (r, *rep)))
            .collect()
    })
}

/// Returns `text` with every secret masked.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (re, rep) in patterns() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *rep).into_owned();
        }
    }
    out
}

/// The longest prefix of `text` of at most `max_bytes` that ends on a char boundary.
pub fn prefix_at_most(text: &str, max_bytes: usize) -> &str {
    let mut cut = max_bytes.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Redacts, then truncates to at most `max_bytes` (on a char boundary), marking the cut.
pub fn redact_truncated(text: &str, max_bytes: usize) -> String {
    let r = redact(text);
    if r.len() > max_bytes {
        return format!("{}…[truncated]", prefix_at_most(&r, max_bytes));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn masks_secrets_and_keeps_the_rest() {
        let cases = [
            "export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "curl https://deploy:hunter2hunter2@git.example.com/x.git",
            "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
            "aws AKIAABCDEFGHIJKLMNOP",
            "OPENAI=sk-proj-abcdefghijklmnopqrstuvwxyz",
            "password: correct-horse-battery",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "glpat-abcdefghijklmnopqrstuvwxyz",
        ];
        for c in cases {
            let r = redact(c);
            assert!(r.contains("[REDACTED]"), "{c} → {r}");
        }
        assert!(!redact(cases[1]).contains("hunter2"));
        assert!(!redact(cases[6]).contains("b3BlbnNzaC1rZXktdjEAAAA"));
        assert_eq!(redact("mail dev@example.com now"), "mail [EMAIL] now");
        let plain = "pub fn total(items: &[Money]) -> Money {";
        assert_eq!(redact(plain), plain);
    }
}
