//! Parsers for what people type: durations (`10s`, `500ms`, `1m30s`), task ids and JSON
//! arguments.

use std::fmt;
use std::time::Duration;

use taskq::{Payload, TaskId};

use crate::error::{shorten, CliError};

/// A duration as typed, kept with its text so messages can quote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The duration.
    pub duration: Duration,
    /// The text it was read from.
    pub text: String,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a duration does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing was given.
    #[error("empty duration; write a number and a unit, like `10s`, `500ms` or `2m`")]
    Empty,
    /// A number without a unit.
    #[error("`{0}` has no unit; write `{0}s` for seconds (units: ms, s, m, h, d)")]
    NoUnit(String),
    /// An unknown unit.
    #[error("unknown unit `{unit}` in `{text}` (units: ms, s, m, h, d)")]
    BadUnit {
        /// The unit.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// Something that is not a number where one should be.
    #[error("`{0}` is not a duration; write a number and a unit, like `10s`, `500ms` or `1m30s`")]
    NotANumber(String),
    /// Too long to represent.
    #[error("`{0}` is too long")]
    Overflow(String),
}

/// Parses `500ms`, `10s`, `2m`, `1h`, `1d`, and sums like `1m30s`; fractions (`1.5s`) too.
pub fn duration(text: &str) -> Result<Span, DurationError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num.matches('.').count() > 1 || num == "." {
            return Err(DurationError::NotANumber(t.to_owned()));
        }
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "" => return Err(DurationError::NoUnit(t.to_owned())),
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" => 3_600.0,
            "d" => 86_400.0,
            other => {
                return Err(DurationError::BadUnit {
                    unit: other.to_owned(),
                    text: t.to_owned(),
                })
            }
        };
        let value: f64 = num
            .parse()
            .map_err(|_| DurationError::NotANumber(t.to_owned()))?;
        total += value * scale;
        rest = next;
    }
    let duration =
        Duration::try_from_secs_f64(total).map_err(|_| DurationError::Overflow(t.to_owned()))?;
    Ok(Span {
        duration,
        text: t.to_owned(),
    })
}

/// A task id, for clap: the error says what an id looks like.
pub fn task_id(text: &str) -> Result<TaskId, taskq::Error> {
    text.trim().parse()
}

/// Task arguments: a JSON object of the task's parameters by name (what a `#[task]` struct
/// serializes to), or an array of them in order. Anything else is an error naming what it is.
pub fn json_args(text: &str) -> Result<Payload, CliError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| CliError::BadJson {
            text: shorten(text),
            source,
        })?;
    let found = match &value {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => None,
        serde_json::Value::Null => Some("null"),
        serde_json::Value::Bool(_) => Some("a boolean"),
        serde_json::Value::Number(_) => Some("a number"),
        serde_json::Value::String(_) => Some("a string"),
    };
    if let Some(found) = found {
        return Err(CliError::ArgsNotObject {
            text: shorten(text),
            found,
        });
    }
    Ok(Payload::encode(&value)?)
}

/// Any JSON document (a workflow's arguments may be any value its struct reads).
pub fn json_value(text: &str) -> Result<serde_json::Value, CliError> {
    serde_json::from_str(text).map_err(|source| CliError::BadJson {
        text: shorten(text),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Duration {
        duration(text).unwrap().duration
    }

    #[test]
    fn durations() {
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("10s"), Duration::from_secs(10));
        assert_eq!(d("2m"), Duration::from_secs(120));
        assert_eq!(d("1h"), Duration::from_secs(3_600));
        assert_eq!(d("1m30s"), Duration::from_secs(90));
        assert_eq!(d("1.5s"), Duration::from_millis(1_500));
        assert_eq!(d(" 0s "), Duration::ZERO);
    }

    #[test]
    fn bad_durations_say_why() {
        assert_eq!(duration("10"), Err(DurationError::NoUnit("10".into())));
        assert!(matches!(
            duration("10x"),
            Err(DurationError::BadUnit { .. })
        ));
        assert!(matches!(duration("s"), Err(DurationError::NotANumber(_))));
        assert!(matches!(
            duration("1..2s"),
            Err(DurationError::NotANumber(_))
        ));
        assert_eq!(duration(""), Err(DurationError::Empty));
        assert!(matches!(
            duration("99999999999999999999999d"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn arguments_are_objects_or_arrays() {
        assert_eq!(json_args(r#"{"a": 1}"#).unwrap().as_str(), r#"{"a":1}"#);
        assert_eq!(json_args("[1, 2]").unwrap().as_str(), "[1,2]");
        let e = json_args("{\"a\": ").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid JSON arguments `{\"a\": `: EOF"),
            "{e}"
        );
        let e = json_args("42").unwrap_err().to_string();
        assert!(e.ends_with("not a number"), "{e}");
    }

    #[test]
    fn ids() {
        let id = TaskId::new();
        assert_eq!(task_id(&id.to_string()).unwrap(), id);
        assert!(task_id("nope")
            .unwrap_err()
            .to_string()
            .contains("not a task id"));
    }
}
