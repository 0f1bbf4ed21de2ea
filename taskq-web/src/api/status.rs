//! A task's state, as `GET /api/tasks/{id}` answers it, and the answer to a revoke.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use taskq::backend::TaskDetail;
use taskq::{Outcome, TaskId, TaskState};

use super::submit::Links;
use super::time::opt;

/// Why a task failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskError {
    /// The kind of failure: `error`, `panic`, `timeout`, `cancelled`, `expired`, `rejected`...
    pub kind: String,
    /// The error's message.
    pub message: String,
}

/// Everything known of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// The task's id.
    pub id: TaskId,
    /// `pending`, `scheduled`, `running`, `retrying`, `succeeded`, `failed` or `cancelled`.
    pub state: TaskState,
    /// Whether the state is final (`succeeded`, `failed`, `cancelled`).
    pub done: bool,
    /// The task's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Its queue, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Its arguments, while the message exists (until it finishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// Deliveries so far.
    pub attempts: u32,
    /// The most deliveries allowed, while the message exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Its priority, while the message exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// The result, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The error, when it failed or was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// Its last progress report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Value>,
    /// When it was enqueued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When its last attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// When it is due (scheduled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// When its lease runs out (running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_deadline: Option<String>,
    /// The worker running it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Why it is in the dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_reason: Option<String>,
    /// The task that enqueued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<TaskId>,
    /// The first task of its tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_id: Option<TaskId>,
    /// Where to find it.
    pub links: Links,
}

fn json_of(p: &taskq::Payload) -> Value {
    serde_json::from_str(p.as_str()).unwrap_or(Value::Null)
}

impl TaskStatus {
    /// The status of `d`, with links under `base`.
    pub(crate) fn from_detail(base: &str, d: TaskDetail) -> Self {
        let (result, error) = match &d.outcome {
            Some(Outcome::Success(p)) => (Some(json_of(p)), None),
            Some(Outcome::Failure(f)) => (
                None,
                Some(TaskError {
                    kind: f.kind.to_string(),
                    message: f.message.clone(),
                }),
            ),
            None => (None, None),
        };
        let env = d.envelope.as_ref();
        Self {
            id: d.id,
            state: d.state,
            done: d.state.is_final(),
            task: d.task.clone(),
            queue: d.queue.clone(),
            arguments: d.args.as_ref().map(json_of),
            attempts: d.attempt,
            max_attempts: env.map(|e| e.max_attempts),
            priority: env.map(|e| e.priority),
            result,
            error,
            progress: d.progress.as_ref().map(json_of),
            created_at: opt(d.created_at),
            started_at: opt(d.started_at),
            finished_at: opt(d.finished_at),
            due_at: opt(d.due_at),
            lease_deadline: opt(d.lease_deadline),
            worker: d.worker.clone(),
            dead_reason: d.dead_reason.map(|r| r.to_string()),
            parent_id: env.and_then(|e| e.parent_id),
            root_id: env.and_then(|e| e.root_id),
            links: Links::of(base, d.id),
        }
    }
}

/// The answer to `DELETE /api/tasks/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// The task.
    pub id: TaskId,
    /// `removed` (it had not started: it never will) or `signalled` (it is running: its
    /// worker stops it at its next lease extension).
    pub outcome: String,
}
