//! Wall-clock helpers: Unix milliseconds (what the store keeps) and RFC 3339 text (what the
//! wire carries).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// RFC 3339 text (UTC, millisecond precision) for Unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let t = t
        .replace_nanosecond((ms.rem_euclid(1000) as u32) * 1_000_000)
        .unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Unix milliseconds of RFC 3339 text, if it is that.
pub fn parse_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_what_it_formats() {
        assert_eq!(
            super::parse_ms(&super::rfc3339(1_700_000_000_123)),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            super::parse_ms("2026-11-01T00:00:00+01:00"),
            Some(1_793_487_600_000)
        );
        assert_eq!(super::parse_ms("yesterday"), None);
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::rfc3339(1_764_090_413_641),
            "2025-11-25T17:06:53.641Z"
        );
        assert!(difflore_proto::is_valid_timestamp(&super::rfc3339(
            super::now_ms()
        )));
    }
}
