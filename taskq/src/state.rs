//! Task states, the events that move a task between them, and the in-process event stream.
//!
//! ```text
//!            enqueue                 fetch               success
//!  (new) ──────────────► Pending ───────────► Running ──────────────► Succeeded
//!     │  countdown/eta      ▲                 │  │ │  failure, attempts left
//!     └────────────► Scheduled ──(due)────────┘  │ └────────────► Retrying ──(due)──► Running
//!                                                │  failure, none left / poison
//!    revoke (not started) ──► Cancelled          └──────────────────────────────────► Failed
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::message::{Outcome, TaskId, Timestamp};

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

/// A change in a task's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// Sent to a backend.
    Enqueued,
    /// A worker started an attempt.
    Started,
    /// An attempt finished with a value.
    Succeeded,
    /// The task failed for good.
    Failed,
    /// An attempt failed and another is scheduled.
    Retried,
    /// The task was revoked, or stopped while running.
    Cancelled,
    /// The message went to the dead-letter queue.
    DeadLettered,
    /// The task reported progress.
    Progress,
}

/// One event: what happened to which task, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// To which task.
    pub id: TaskId,
    /// The task's name.
    pub task: String,
    /// The attempt number, where one applies.
    pub attempt: u32,
    /// When.
    pub at: Timestamp,
    /// The error or reason, for failures, retries and dead letters.
    pub detail: Option<String>,
}

const EVENT_BUFFER: usize = 4096;

/// Whether anybody ever subscribed: until then, the bus (4096 slots) is not even allocated.
static LIVE: AtomicBool = AtomicBool::new(false);

fn bus() -> &'static broadcast::Sender<Event> {
    static BUS: OnceLock<broadcast::Sender<Event>> = OnceLock::new();
    BUS.get_or_init(|| broadcast::channel(EVENT_BUFFER).0)
}

/// Subscribes to the events of this process: what its clients enqueue and what its workers
/// run. A subscriber that falls more than 4096 events behind skips the oldest
/// ([`broadcast::error::RecvError::Lagged`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut events = taskq::events::subscribe();
/// // ... enqueue and run tasks, then:
/// # drop(events.try_recv());
/// # }
/// ```
pub fn subscribe() -> broadcast::Receiver<Event> {
    let rx = bus().subscribe();
    LIVE.store(true, Ordering::Relaxed);
    rx
}

/// Whether anybody listens; lets hot paths skip building events nobody reads.
pub(crate) fn has_subscribers() -> bool {
    LIVE.load(Ordering::Relaxed)
}

pub(crate) fn emit(kind: EventKind, id: TaskId, task: &str, attempt: u32, detail: Option<String>) {
    if !has_subscribers() {
        return;
    }
    let bus = bus();
    if bus.receiver_count() == 0 {
        return;
    }
    // An error only means every subscriber has gone away meanwhile.
    let _ = bus.send(Event {
        kind,
        id,
        task: task.to_owned(),
        attempt,
        at: Timestamp::now(),
        detail,
    });
}
