//! Parsing: cron expressions (with `croner`), time zone names (with `jiff`'s bundled tz
//! database) and interval texts.

use std::time::Duration;

use croner::parser::{CronParser, Seconds};
use croner::Cron;
use jiff::tz::TimeZone;

use super::error::ScheduleError;

/// Parses a cron expression of 5 fields, or 6 with seconds first.
///
/// ```
/// assert!(taskq::schedule::parse_cron("0 9 * * MON-FRI").is_ok());
/// assert!(taskq::schedule::parse_cron("*/10 * * * * *").is_ok()); // every 10 seconds
/// assert!(taskq::schedule::parse_cron("0 25 * * *").is_err());
/// ```
///
/// # Errors
/// [`ScheduleError::BadCron`] with the parser's reason.
pub fn parse(expr: &str) -> Result<Cron, ScheduleError> {
    let fields = expr.split_whitespace().count();
    let nickname = expr.trim_start().starts_with('@');
    if !nickname && !(5..=6).contains(&fields) {
        return Err(ScheduleError::BadCron {
            expr: expr.to_owned(),
            reason: format!("{fields} fields; 5, or 6 with seconds first"),
        });
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expr)
        .map_err(|e| ScheduleError::BadCron {
            expr: expr.to_owned(),
            reason: e.to_string(),
        })
}

/// Looks up an IANA time zone (`Europe/Berlin`, `UTC`) in the tz database compiled into the
/// binary, so a scratch container without `/usr/share/zoneinfo` works too.
///
/// ```
/// assert!(taskq::schedule::time_zone("America/New_York").is_ok());
/// assert!(taskq::schedule::time_zone("Mars/Olympus_Mons").is_err());
/// ```
///
/// # Errors
/// [`ScheduleError::UnknownTimeZone`].
pub fn time_zone(name: &str) -> Result<TimeZone, ScheduleError> {
    if name.eq_ignore_ascii_case("utc") {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| ScheduleError::UnknownTimeZone {
        tz: name.to_owned(),
    })
}

/// Parses an interval: numbers with units `ms`, `s`, `m`, `h`, `d`, run together (`"1h30m"`,
/// `"90s"`, `"500ms"`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(taskq::schedule::parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert!(taskq::schedule::parse_duration("soon").is_err());
/// ```
///
/// # Errors
/// [`ScheduleError::BadInterval`].
pub fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let bad = |reason| ScheduleError::BadInterval {
        text: text.to_owned(),
        reason,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(bad("a number needs a unit (ms, s, m, h, d)")),
            _ => return Err(bad("unknown unit; use ms, s, m, h or d")),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("too long"))?;
    }
    if total == 0 {
        return Err(bad("zero"));
    }
    Ok(Duration::from_millis(total))
}
