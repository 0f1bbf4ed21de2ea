//! Celery's Redis result backend: `celery-task-meta-<id>` holds
//! `{"status", "result", "traceback", "children", "date_done", "task_id"}` (plus `parent_id` and
//! `group_id` when the task has them), written with `SETEX` and published on a channel of the
//! same name, which is what `AsyncResult.get()` subscribes to.

use serde_json::{json, Map, Value};
use taskq::{FailureKind, Outcome, Payload, TaskFailure, TaskState};

/// The key and channel of a task's result.
pub fn key(id: &str) -> String {
    format!("celery-task-meta-{id}")
}

/// Celery's states.
pub mod states {
    /// Not known, or queued.
    pub const PENDING: &str = "PENDING";
    /// Running.
    pub const STARTED: &str = "STARTED";
    /// Succeeded.
    pub const SUCCESS: &str = "SUCCESS";
    /// Failed.
    pub const FAILURE: &str = "FAILURE";
    /// Failed, will run again.
    pub const RETRY: &str = "RETRY";
    /// Revoked (or expired).
    pub const REVOKED: &str = "REVOKED";
}

/// Whether a state is final (Celery's `READY_STATES`).
pub fn is_ready(status: &str) -> bool {
    matches!(status, states::SUCCESS | states::FAILURE | states::REVOKED)
}

/// The Python exception a Rust failure becomes, as Celery's JSON exception form: its class,
/// module and arguments. Celery rebuilds it with `exception_to_python`, so `result.get()` in
/// Python raises it with the Rust error's message.
pub fn exception(failure: &TaskFailure) -> (String, Value) {
    let (module, class, status) = match failure.kind {
        FailureKind::Timeout => ("celery.exceptions", "TimeLimitExceeded", states::FAILURE),
        FailureKind::Cancelled | FailureKind::Expired => {
            ("celery.exceptions", "TaskRevokedError", states::REVOKED)
        }
        FailureKind::Rejected => ("celery.exceptions", "Reject", states::FAILURE),
        _ => ("builtins", "RuntimeError", states::FAILURE),
    };
    let message = match failure.kind {
        FailureKind::Expired => format!("expired: {}", failure.message),
        _ => failure.message.clone(),
    };
    (
        status.to_owned(),
        json!({"exc_type": class, "exc_message": [message], "exc_module": module}),
    )
}

/// The metadata of a final or intermediate state, as Celery's `_get_result_meta` builds it.
pub fn encode(
    task_id: &str,
    status: &str,
    result: Value,
    traceback: Option<String>,
    children: Vec<Value>,
    parent_id: Option<&str>,
    group_id: Option<&str>,
) -> String {
    let mut m = Map::new();
    m.insert("status".into(), status.into());
    m.insert("result".into(), result);
    m.insert(
        "traceback".into(),
        traceback.map_or(Value::Null, Value::from),
    );
    m.insert("children".into(), Value::Array(children));
    let done = if is_ready(status) {
        Value::from(crate::time::now_iso())
    } else {
        Value::Null
    };
    m.insert("date_done".into(), done);
    if let Some(g) = group_id {
        m.insert("group_id".into(), g.into());
    }
    if let Some(p) = parent_id {
        m.insert("parent_id".into(), p.into());
    }
    m.insert("task_id".into(), task_id.into());
    Value::Object(m).to_string()
}

/// The traceback text stored for a Rust failure (Python prints it as the remote traceback).
pub fn traceback(task: &str, failure: &TaskFailure) -> String {
    format!(
        "Traceback (taskq worker, Rust):\n  task `{task}` failed ({}):\n{}\n",
        failure.kind, failure.message
    )
}

/// What a stored or published metadata document says.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    /// The Celery state.
    pub status: String,
    /// `result`: the value, the exception, or custom metadata (`PROGRESS`).
    pub result: Value,
}

/// Parses a metadata document.
pub fn parse(text: &str) -> Option<Meta> {
    let v: Value = serde_json::from_str(text).ok()?;
    let status = v.get("status")?.as_str()?.to_owned();
    Some(Meta {
        status,
        result: v.get("result").cloned().unwrap_or(Value::Null),
    })
}

impl Meta {
    /// The taskq state.
    pub fn state(&self) -> TaskState {
        match self.status.as_str() {
            states::SUCCESS => TaskState::Succeeded,
            states::FAILURE => TaskState::Failed,
            states::REVOKED => TaskState::Cancelled,
            states::RETRY => TaskState::Retrying,
            states::PENDING | "RECEIVED" => TaskState::Pending,
            _ => TaskState::Running,
        }
    }

    /// The outcome, for a final state.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.status.as_str() {
            states::SUCCESS => Payload::encode(&self.result).ok().map(Outcome::Success),
            states::FAILURE | states::REVOKED => Some(Outcome::Failure(self.failure())),
            _ => None,
        }
    }

    fn failure(&self) -> TaskFailure {
        let exc_type = self
            .result
            .get("exc_type")
            .and_then(Value::as_str)
            .unwrap_or("Exception");
        let module = self
            .result
            .get("exc_module")
            .and_then(Value::as_str)
            .unwrap_or("");
        let message = match self.result.get("exc_message") {
            Some(Value::Array(parts)) => parts
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let kind = match (self.status.as_str(), exc_type) {
            (states::REVOKED, _) if message.starts_with("expired") => FailureKind::Expired,
            (states::REVOKED, _) | (_, "TaskRevokedError") => FailureKind::Cancelled,
            (_, "TimeLimitExceeded" | "SoftTimeLimitExceeded") => FailureKind::Timeout,
            (_, "Reject" | "NotRegistered") => FailureKind::Rejected,
            _ => FailureKind::Error,
        };
        // A Rust error travels as `builtins.RuntimeError(message)`: give the message back as
        // it was; a Python exception keeps its class name in front.
        let text = if module == "builtins" && exc_type == "RuntimeError" {
            message
        } else {
            format!("{exc_type}: {message}")
        };
        TaskFailure::new(kind, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_failures_and_rust_failures_decode() {
        let py = parse(
            r#"{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["boom"], "exc_module": "builtins"}, "traceback": "...", "children": [], "date_done": "2026-11-22T12:06:29.298852+00:00", "task_id": "1b005d3d-e4e6-425b-b852-d4475ef500e3"}"#,
        )
        .expect("meta");
        assert_eq!(
            py.outcome(),
            Some(Outcome::Failure(TaskFailure::new(
                FailureKind::Error,
                "ValueError: boom"
            )))
        );
        let failure = TaskFailure::new(FailureKind::Error, "division by zero");
        let (status, result) = exception(&failure);
        let text = encode("x", &status, result, None, vec![], None, None);
        assert_eq!(
            parse(&text).and_then(|m| m.outcome()),
            Some(Outcome::Failure(failure))
        );
    }
}
