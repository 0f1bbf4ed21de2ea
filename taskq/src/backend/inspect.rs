//! What operators see and steer: tasks of a queue by state, one task's full record, the
//! workers that are alive, dead letters by selection, paused queues.
//!
//! These types are what [`Backend`](super::Backend)'s inspection methods answer, and what the
//! `taskq` CLI, the web API and the dashboard show. None of them keeps a copy of task state:
//! every answer is read from the backend when asked.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::message::{DeadLetterReason, Envelope, Outcome, Payload, TaskId, Timestamp};
use crate::state::TaskState;

/// Where a message is in its queue, for [`Backend::list_tasks`](super::Backend::list_tasks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ListState {
    /// Ready to run, highest priority first, oldest first within one.
    Ready,
    /// Waiting for its time (countdown, eta, retry backoff), soonest first.
    Scheduled,
    /// Leased by a worker, the earliest lease deadline first.
    Leased,
    /// In the dead-letter queue, oldest first.
    Dead,
}

impl ListState {
    /// Every state, in that order.
    pub const ALL: [ListState; 4] = [
        ListState::Ready,
        ListState::Scheduled,
        ListState::Leased,
        ListState::Dead,
    ];

    /// Its name (`ready`, `scheduled`, `leased`, `dead`).
    pub fn as_str(self) -> &'static str {
        match self {
            ListState::Ready => "ready",
            ListState::Scheduled => "scheduled",
            ListState::Leased => "leased",
            ListState::Dead => "dead",
        }
    }
}

impl std::fmt::Display for ListState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of `ready`, `scheduled`, `leased`, `dead`.
#[derive(Debug, thiserror::Error)]
#[error("unknown state `{0}`: expected one of `ready`, `scheduled`, `leased`, `dead`")]
pub struct UnknownListState(pub String);

impl FromStr for ListState {
    type Err = UnknownListState;

    /// ```
    /// use taskq::backend::ListState;
    /// assert_eq!("leased".parse::<ListState>().unwrap(), ListState::Leased);
    /// assert!("running".parse::<ListState>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ready" | "queued" => Ok(ListState::Ready),
            "scheduled" | "delayed" => Ok(ListState::Scheduled),
            "leased" | "active" => Ok(ListState::Leased),
            "dead" => Ok(ListState::Dead),
            _ => Err(UnknownListState(s.to_owned())),
        }
    }
}

/// One message of a queue, as listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskSummary {
    /// The task's id.
    pub id: TaskId,
    /// Where it is.
    pub state: ListState,
    /// The message, when it decodes (`None` for a malformed dead letter).
    pub envelope: Option<Envelope>,
    /// Scheduled: when it is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<Timestamp>,
    /// Leased: when the lease runs out unless extended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_deadline: Option<Timestamp>,
    /// Leased: the worker holding it, when a live worker's heartbeat names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Dead: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DeadLetterReason>,
    /// Dead: the error, or the raw message when it does not decode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Dead: when it was dead-lettered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_at: Option<Timestamp>,
}

impl TaskSummary {
    /// A summary of `envelope` in `state`, with nothing else known.
    pub fn new(state: ListState, id: TaskId, envelope: Option<Envelope>) -> Self {
        Self {
            id,
            state,
            envelope,
            due_at: None,
            lease_deadline: None,
            worker: None,
            reason: None,
            error: None,
            dead_at: None,
        }
    }
}

/// One page of a listing, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last one.
    pub next: Option<String>,
    /// How many items the listing has in all, when the backend knows it cheaply.
    pub total: Option<usize>,
}

/// Everything a backend knows of one task: what [`Backend::inspect`](super::Backend::inspect)
/// answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskDetail {
    /// The task.
    pub id: TaskId,
    /// Its state.
    pub state: TaskState,
    /// Its name, when known (from the message or the stored result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Its queue, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The message while it exists (queued, scheduled, running, dead): arguments, attempts,
    /// priority, parent and root, when it was enqueued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Envelope>,
    /// The arguments: the message's while it exists, then as kept with the result (see
    /// [`Completion::args`](crate::backend::Completion::args)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Payload>,
    /// Deliveries so far (for a finished task, the one that finished it).
    pub attempt: u32,
    /// The outcome, once final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The last progress report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Payload>,
    /// When it was first enqueued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When its last attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Scheduled: when it is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<Timestamp>,
    /// Running: when its lease runs out unless extended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_deadline: Option<Timestamp>,
    /// Running: the worker holding it, when a live worker's heartbeat names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Dead-lettered: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_reason: Option<DeadLetterReason>,
}

impl TaskDetail {
    /// A detail of task `id` in `state`, with nothing else known.
    pub fn new(id: TaskId, state: TaskState) -> Self {
        Self {
            id,
            state,
            task: None,
            queue: None,
            envelope: None,
            args: None,
            attempt: 0,
            outcome: None,
            progress: None,
            created_at: None,
            started_at: None,
            finished_at: None,
            due_at: None,
            lease_deadline: None,
            worker: None,
            dead_reason: None,
        }
    }

    /// Fills the fields that come from the message.
    pub fn with_envelope(mut self, env: Envelope) -> Self {
        self.task = Some(env.task.clone());
        self.queue = Some(env.queue.clone());
        self.attempt = self.attempt.max(env.attempt);
        self.created_at = Some(env.enqueued_at);
        self.args = Some(env.args.clone());
        self.envelope = Some(env);
        self
    }
}

/// Which dead letters of a queue an operation applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadSelection {
    /// All of them.
    All,
    /// The ones with these ids.
    Ids(Vec<TaskId>),
    /// The ones dead-lettered for this reason.
    Reason(DeadLetterReason),
}

impl DeadSelection {
    /// Whether a dead letter with `id` and `reason` is selected.
    ///
    /// ```
    /// use taskq::backend::DeadSelection;
    /// use taskq::DeadLetterReason::*;
    /// let id = taskq::TaskId::new();
    /// assert!(DeadSelection::All.matches(id, UnknownTask));
    /// assert!(DeadSelection::Reason(UnknownTask).matches(id, UnknownTask));
    /// assert!(!DeadSelection::Reason(UnknownTask).matches(id, AttemptsExhausted));
    /// assert!(!DeadSelection::Ids(vec![]).matches(id, UnknownTask));
    /// ```
    pub fn matches(&self, id: TaskId, reason: DeadLetterReason) -> bool {
        match self {
            DeadSelection::All => true,
            DeadSelection::Ids(ids) => ids.contains(&id),
            DeadSelection::Reason(r) => *r == reason,
        }
    }
}

/// A task a worker is running, as its heartbeat reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTask {
    /// The task's id.
    pub id: TaskId,
    /// Its name.
    pub task: String,
    /// Its queue.
    pub queue: String,
    /// The attempt running.
    pub attempt: u32,
    /// When it started.
    pub started_at: Timestamp,
}

/// A live worker, as it announces itself with every heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// Unique per worker run (`host:pid:random`).
    pub id: String,
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The queues it serves.
    pub queues: Vec<String>,
    /// How many tasks it runs at once.
    pub concurrency: usize,
    /// How many it may hold beyond those.
    pub prefetch: usize,
    /// The taskq version it runs.
    pub version: String,
    /// The backend it talks to (`redis`, `memory`).
    pub backend: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it sent this heartbeat.
    pub heartbeat_at: Timestamp,
    /// How often it sends one, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// The tasks it is running now.
    pub running: Vec<RunningTask>,
    /// Attempts it finished (succeeded, failed, retried, rejected).
    pub processed: u64,
    /// Of those, attempts that failed (retried or failed for good) and rejected messages.
    pub failed: u64,
}

impl WorkerInfo {
    /// A worker with id `id` and nothing else known (for backends' and tests' use).
    pub fn new(id: impl Into<String>) -> Self {
        let now = Timestamp::now();
        Self {
            id: id.into(),
            host: String::new(),
            pid: std::process::id(),
            queues: Vec::new(),
            concurrency: 0,
            prefetch: 0,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            backend: String::new(),
            started_at: now,
            heartbeat_at: now,
            heartbeat_interval_ms: 0,
            running: Vec::new(),
            processed: 0,
            failed: 0,
        }
    }
}
