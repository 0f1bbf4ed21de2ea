//! Submitting a task: the `options` of a submit body, and the `202` answer.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use taskq::{TaskId, Timestamp};

use super::time::{parse_rfc3339, rfc3339};
use crate::problem::FieldError;

/// The `options` object of a submit body: each one overrides the task's own declaration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitOptions {
    /// Another queue than the task's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Run no sooner than this long from now: `"10s"`, `"1m 30s"`, or a number of seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countdown: Option<Value>,
    /// Run no sooner than this time (RFC 3339); wins over `countdown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<String>,
    /// 0 to 9, higher first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Discard the task (failing it as expired) if it has not started by then: a duration
    /// from now (`"10m"`, seconds) or an RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Value>,
}

/// The JSON Schema of [`SubmitOptions`].
pub(crate) fn options_schema() -> Value {
    let duration = |what: &str| {
        json!({
            "description": what,
            "oneOf": [
                { "type": "string", "minLength": 1, "maxLength": 64, "examples": ["10s", "1m 30s"] },
                { "type": "number", "minimum": 0, "maximum": 31_536_000_000u64 }
            ]
        })
    };
    json!({
        "type": "object",
        "description": "Per-submit overrides of the task's declared options.",
        "properties": {
            "queue": { "type": "string", "minLength": 1, "maxLength": 200, "description": "Another queue than the task's." },
            "countdown": duration("Run no sooner than this long from now: \"10s\", \"1m 30s\", or a number of seconds."),
            "eta": { "type": "string", "format": "date-time", "description": "Run no sooner than this time (RFC 3339); wins over `countdown`." },
            "priority": { "type": "integer", "minimum": 0, "maximum": 9, "description": "0 to 9, higher first." },
            "expires": {
                "description": "Discard the task if it has not started by then: a duration from now (\"10m\", seconds) or an RFC 3339 time.",
                "oneOf": [
                    { "type": "string", "minLength": 1, "maxLength": 64 },
                    { "type": "number", "minimum": 0, "maximum": 31_536_000_000u64 }
                ]
            }
        },
        "additionalProperties": false
    })
}

/// A duration as `"10s"`, `"1m 30s"`, `"250ms"` or a number of seconds (`30`, `1.5`).
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    humantime::parse_duration(s).ok()
}

fn duration_value(v: &Value) -> Option<Duration> {
    match v {
        Value::Number(n) => n.as_f64().and_then(|s| Duration::try_from_secs_f64(s).ok()),
        Value::String(s) => parse_duration(s),
        _ => None,
    }
}

/// The options of a submit, read and checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Overrides {
    pub(crate) queue: Option<String>,
    pub(crate) eta: Option<Timestamp>,
    pub(crate) priority: Option<u8>,
    pub(crate) expires: Option<Timestamp>,
}

impl Overrides {
    /// Reads `options` (the schema has checked its shape); a value the schema cannot judge (a
    /// duration or time that does not parse) is a field error, unless the schema already
    /// reported an error at that place (`reported`).
    pub(crate) fn read(
        options: Option<&Value>,
        now: Timestamp,
        reported: &[FieldError],
        errors: &mut Vec<FieldError>,
    ) -> Overrides {
        let mut out = Overrides::default();
        let Some(Value::Object(o)) = options else {
            return out;
        };
        let mut fail = |field: &str, detail: String| {
            let pointer = format!("/options/{field}");
            if !reported.iter().any(|e| e.pointer == pointer) {
                errors.push(FieldError { pointer, detail });
            }
        };
        if let Some(Value::String(q)) = o.get("queue") {
            out.queue = Some(q.clone());
        }
        if let Some(p) = o.get("priority").and_then(Value::as_u64) {
            out.priority = u8::try_from(p.min(9)).ok();
        }
        let countdown = o.get("countdown").and_then(|v| {
            let d = duration_value(v);
            if d.is_none() {
                fail(
                    "countdown",
                    format!(
                        "{v} is not a duration: write \"10s\", \"1m 30s\" or a number of seconds"
                    ),
                );
            }
            d
        });
        let eta = o.get("eta").and_then(|v| {
            let t = v.as_str().and_then(parse_rfc3339);
            if t.is_none() {
                fail(
                    "eta",
                    format!("{v} is not an RFC 3339 time such as \"2030-01-02T03:04:05Z\""),
                );
            }
            t
        });
        out.eta = eta.or_else(|| countdown.map(|d| now.after(d)));
        out.expires = o.get("expires").and_then(|v| {
            let t = match v {
                Value::String(s) => {
                    parse_rfc3339(s).or_else(|| parse_duration(s).map(|d| now.after(d)))
                }
                _ => duration_value(v).map(|d| now.after(d)),
            };
            if t.is_none() {
                fail(
                    "expires",
                    format!("{v} is neither a duration (\"10m\", seconds) nor an RFC 3339 time"),
                );
            }
            t
        });
        out
    }
}

/// Where to find an accepted task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// The task: `GET` for its state, `DELETE` to revoke it.
    #[serde(rename = "self")]
    pub this: String,
    /// Waits for its result (`?wait=30s`).
    pub result: String,
    /// Its events, as server-sent events.
    pub events: String,
}

impl Links {
    /// The links of task `id` under `base` (the path the API is mounted at, `""` at the root).
    pub fn of(base: &str, id: TaskId) -> Self {
        Self {
            this: format!("{base}/api/tasks/{id}"),
            result: format!("{base}/api/tasks/{id}?wait=30s"),
            events: format!("{base}/api/events?task={id}"),
        }
    }
}

/// The answer to a submit: `202 Accepted`, with a `Location` header naming the task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAccepted {
    /// The task's id.
    pub id: TaskId,
    /// The task's name.
    pub task: String,
    /// The queue it went to.
    pub queue: String,
    /// `pending` (ready to run) or `scheduled` (waiting for its `eta`).
    pub state: String,
    /// When it may run, if later than now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<String>,
    /// Where to find it.
    pub links: Links,
}

impl TaskAccepted {
    /// The answer for envelope fields.
    pub(crate) fn new(
        base: &str,
        id: TaskId,
        task: &str,
        queue: &str,
        eta: Option<Timestamp>,
    ) -> Self {
        let scheduled = eta.is_some_and(|t| t > Timestamp::now());
        Self {
            id,
            task: task.to_owned(),
            queue: queue.to_owned(),
            state: if scheduled { "scheduled" } else { "pending" }.to_owned(),
            eta: eta.map(rfc3339),
            links: Links::of(base, id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m 30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-1"), None);
    }

    #[test]
    fn options_with_errors() {
        let now = Timestamp(1_000_000);
        let mut errors = Vec::new();
        let o = Overrides::read(
            Some(&json!({"queue": "q", "countdown": "2s", "priority": 7, "expires": "nope"})),
            now,
            &[],
            &mut errors,
        );
        assert_eq!(o.queue.as_deref(), Some("q"));
        assert_eq!(o.eta, Some(Timestamp(1_002_000)));
        assert_eq!(o.priority, Some(7));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pointer, "/options/expires");
    }
}
