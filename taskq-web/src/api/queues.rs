//! Queues, their tasks, and workers.

use serde::{Deserialize, Serialize};
use taskq::backend::{QueueStats, TaskSummary, WorkerInfo};

use super::time::opt;

/// One queue's counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    /// The queue's name.
    pub name: String,
    /// Ready to run.
    pub ready: usize,
    /// Waiting for their time (countdown, eta, retry backoff).
    pub scheduled: usize,
    /// Leased by workers.
    pub running: usize,
    /// In the dead-letter queue.
    pub dead: usize,
    /// Whether workers take nothing from it.
    pub paused: bool,
    /// When the oldest ready task became ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_ready: Option<String>,
}

impl QueueInfo {
    /// The info of `name` from its stats.
    pub(crate) fn new(name: String, s: QueueStats) -> Self {
        Self {
            name,
            ready: s.ready,
            scheduled: s.delayed,
            running: s.running,
            dead: s.dead,
            paused: s.paused,
            oldest_ready: opt(s.oldest_ready),
        }
    }
}

/// `GET /api/queues`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueList {
    /// Every queue the backend has seen or a registered task names, sorted.
    pub queues: Vec<QueueInfo>,
}

/// One page of a queue's tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskList {
    /// The tasks of this page.
    pub items: Vec<TaskSummary>,
    /// The `cursor` of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// How many the listing has in all, when the backend knows it cheaply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
}

/// `GET /api/workers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerList {
    /// The live workers, by id.
    pub workers: Vec<WorkerInfo>,
}
