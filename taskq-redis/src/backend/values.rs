//! Values as the scripts take and give them: times in ms, outcomes rendered to JSON, replies
//! read as integers or text.

use std::time::Duration;

use redis::Value;
use taskq::{BackendError, Outcome, Timestamp};

use crate::conn::BACKEND;

pub(super) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// When a result kept for `ttl` expires, in ms as the scripts take it (empty: keep none).
pub(super) fn expiry(ttl: Option<Duration>) -> String {
    ttl.map_or_else(String::new, |t| {
        Timestamp::now()
            .after(t.max(Duration::from_millis(1)))
            .as_millis()
            .to_string()
    })
}

pub(super) fn encode_error(what: &str, e: serde_json::Error) -> BackendError {
    BackendError::Command {
        backend: BACKEND,
        source: format!("could not encode {what}: {e}").into(),
    }
}

pub(super) fn outcome_json(outcome: &Outcome) -> Result<String, BackendError> {
    serde_json::to_string(outcome).map_err(|e| encode_error("an outcome", e))
}

/// The outcome as stored (`{"outcome":..}`) and as announced (`{"id":..,"outcome":..}`),
/// rendered here so the scripts only move strings.
pub(super) fn rendered(id: &str, outcome: &Outcome) -> Result<(String, String), BackendError> {
    let o = outcome_json(outcome)?;
    let id = serde_json::to_string(id).map_err(|e| encode_error("an id", e))?;
    Ok((
        format!("{{\"outcome\":{o}}}"),
        format!("{{\"id\":{id},\"outcome\":{o}}}"),
    ))
}

pub(super) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

pub(super) fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}
