//! Task states and what a backend knows of one task (the events that move a task between
//! states are in [`crate::events`]).
//!
//! ```text
//!            enqueue                 fetch               success
//!  (new) ──────────────► Pending ───────────► Running ──────────────► Succeeded
//!     │  countdown/eta      ▲                 │  │ │  failure, attempts left
//!     └────────────► Scheduled ──(due)────────┘  │ └────────────► Retrying ──(due)──► Running
//!                                                │  failure, none left / poison
//!    revoke (not started) ──► Cancelled          └──────────────────────────────────► Failed
//! ```

use serde::{Deserialize, Serialize};

use crate::message::{Outcome, TaskId};

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskState {
    /// Queued and ready, or not known to the backend (yet, or any more: results expire).
    Pending,
    /// Waiting for its countdown or eta.
    Scheduled,
    /// Leased by a worker.
    Running,
    /// Failed, and waiting to be tried again.
    Retrying,
    /// Finished with a value.
    Succeeded,
    /// Finished with an error, for good.
    Failed,
    /// Revoked, or expired before it started.
    Cancelled,
}

impl TaskState {
    /// Whether the task will not change state any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::Cancelled
        )
    }
}

/// What a backend knows about one task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    /// The task.
    pub id: TaskId,
    /// Its state.
    pub state: TaskState,
    /// Its outcome, once final (and while the result has not expired).
    pub outcome: Option<Outcome>,
    /// The last progress report, if the task made one.
    pub progress: Option<crate::message::Payload>,
}
