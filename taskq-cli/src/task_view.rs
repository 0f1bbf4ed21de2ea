//! A task's state and outcome as printed by `result`, `send --wait` and `revoke`: one JSON shape
//! for scripts, and a short line for people.

use serde::Serialize;
use taskq::{DeadLetterReason, Outcome, Payload, TaskFailure, TaskId, TaskRecord, TaskState};

use crate::error::CliError;
use crate::output::Out;

/// The name of a state, as in JSON (`succeeded`).
pub fn state_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Pending => "pending",
        TaskState::Scheduled => "scheduled",
        TaskState::Running => "running",
        TaskState::Retrying => "retrying",
        TaskState::Succeeded => "succeeded",
        TaskState::Failed => "failed",
        TaskState::Cancelled => "cancelled",
        _ => "unknown",
    }
}

/// A dead-letter reason's name, as in JSON and `--reason` (`unknown_task`).
pub fn reason_name(reason: DeadLetterReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| reason.to_string())
}

/// What `taskq result --json` prints.
#[derive(Debug, Serialize)]
pub struct ResultView {
    /// The task.
    pub id: TaskId,
    /// Its state.
    pub state: TaskState,
    /// Its value, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Payload>,
    /// Its error, when it failed or was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskFailure>,
    /// Its last progress report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Payload>,
}

impl ResultView {
    /// The view of a finished task.
    pub fn of_outcome(id: TaskId, outcome: Outcome) -> Self {
        let state = outcome.state();
        let (result, error) = match outcome {
            Outcome::Success(p) => (Some(p), None),
            Outcome::Failure(f) => (None, Some(f)),
        };
        Self {
            id,
            state,
            result,
            error,
            progress: None,
        }
    }

    /// The view of what the backend knows.
    pub fn of_record(record: TaskRecord) -> Self {
        let mut view = match record.outcome {
            Some(outcome) => Self::of_outcome(record.id, outcome),
            None => Self {
                id: record.id,
                state: record.state,
                result: None,
                error: None,
                progress: None,
            },
        };
        view.state = record.state;
        view.progress = record.progress;
        view
    }

    /// Prints it: JSON, or for people the value itself (pretty JSON) when the task succeeded,
    /// `failed: <kind>: <message>` when it failed, and the state otherwise.
    pub fn print(&self, out: &Out) -> Result<(), CliError> {
        if out.is_json() {
            return out.json(self);
        }
        if let Some(value) = &self.result {
            let pretty = serde_json::from_str::<serde_json::Value>(value.as_str())
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| value.as_str().to_owned());
            return out.line(pretty);
        }
        if let Some(error) = &self.error {
            return out.line(format_args!("{}: {error}", state_name(self.state)));
        }
        match &self.progress {
            Some(p) => out.line(format_args!(
                "{} (progress: {})",
                state_name(self.state),
                p.as_str()
            )),
            None => out.line(state_name(self.state)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_has_a_result_and_no_error() {
        let id = TaskId::new();
        let ok = ResultView::of_outcome(id, Outcome::Success(Payload::encode(&5).unwrap()));
        let v = serde_json::to_value(&ok).unwrap();
        assert_eq!(v["state"], "succeeded");
        assert_eq!(v["result"], 5);
        assert!(v.get("error").is_none());
    }

    #[test]
    fn a_failure_has_an_error() {
        let failure = TaskFailure::new(taskq::FailureKind::Error, "boom");
        let v = serde_json::to_value(ResultView::of_outcome(
            TaskId::new(),
            Outcome::Failure(failure),
        ))
        .unwrap();
        assert_eq!(v["state"], "failed");
        assert_eq!(v["error"]["kind"], "error");
        assert_eq!(v["error"]["message"], "boom");
    }
}
