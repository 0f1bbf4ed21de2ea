//! Times as RFC 3339 strings.

use taskq::Timestamp;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `ts` as an RFC 3339 time in UTC with milliseconds (`2025-01-02T03:04:05.678Z`).
///
/// ```
/// assert_eq!(taskq_web::api::rfc3339(taskq::Timestamp(0)), "1970-01-01T00:00:00Z");
/// ```
pub fn rfc3339(ts: Timestamp) -> String {
    let nanos = i128::from(ts.as_millis()) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Reads an RFC 3339 time (any offset) as a timestamp.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).ok().map(Timestamp)
}

/// Serializes an optional timestamp as an RFC 3339 string.
pub(crate) fn opt(ts: Option<Timestamp>) -> Option<String> {
    ts.map(rfc3339)
}
