//! Values as the scripts take and give them: times in ms, outcomes rendered to JSON, replies
//! read as integers or text.

use std::time::Duration;

use redis::Value;
use taskq::{BackendError, DeadLetterReason, Outcome, Payload, Timestamp};

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

/// The outcome as stored (`{"outcome":..,<about>}`) and as announced
/// (`{"id":..,"outcome":..}`), rendered here so the scripts only move strings.
pub(super) fn rendered(
    id: &str,
    outcome: &Outcome,
    about: &About<'_>,
) -> Result<(String, String), BackendError> {
    let o = outcome_json(outcome)?;
    let id = serde_json::to_string(id).map_err(|e| encode_error("an id", e))?;
    let mut stored = String::with_capacity(o.len() + 96);
    stored.push_str("{\"outcome\":");
    stored.push_str(&o);
    about.push_to(&mut stored);
    stored.push('}');
    Ok((stored, format!("{{\"id\":{id},\"outcome\":{o}}}")))
}

/// What a stored result tells beside its outcome, for `inspect` once the message is gone: the
/// task's name, the attempt that ended it, when it started and finished, why it was
/// dead-lettered. (Its queue is the one whose `results` hash holds it.)
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct About<'a> {
    pub(super) task: Option<&'a str>,
    pub(super) attempt: u32,
    pub(super) started_at: Option<Timestamp>,
    pub(super) dead_reason: Option<DeadLetterReason>,
    /// The task's arguments (JSON text, written as it is).
    pub(super) args: Option<&'a Payload>,
}

impl About<'_> {
    /// Appends `,"task":..,"attempt":..,..,"finished_at":<now>` (the fields of
    /// [`StoredResult`](crate::codec::StoredResult) after the outcome).
    pub(super) fn push_to(&self, s: &mut String) {
        use std::fmt::Write as _;
        if let Some(task) = self.task {
            s.push_str(",\"task\":");
            // A task name is a Rust path or a plain string: JSON-escape it all the same.
            match serde_json::to_string(task) {
                Ok(t) => s.push_str(&t),
                Err(_) => s.push_str("null"),
            }
        }
        if self.attempt > 0 {
            let _ = write!(s, ",\"attempt\":{}", self.attempt);
        }
        if let Some(at) = self.started_at {
            let _ = write!(s, ",\"started_at\":{}", at.0);
        }
        if let Some(reason) = self.dead_reason {
            if let Ok(r) = serde_json::to_string(&reason) {
                s.push_str(",\"dead_reason\":");
                s.push_str(&r);
            }
        }
        if let Some(args) = self.args {
            s.push_str(",\"args\":");
            s.push_str(args.as_str());
        }
        let _ = write!(s, ",\"finished_at\":{}", Timestamp::now().0);
    }
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
