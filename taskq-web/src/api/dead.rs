//! Dead letters: listing, requeueing, purging.

use serde::{Deserialize, Serialize};
use taskq::{DeadLetter, TaskId};

/// `GET /api/queues/{q}/dead`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeadLetterList {
    /// The queue.
    pub queue: String,
    /// Its dead letters, oldest first (at most `limit`).
    pub items: Vec<DeadLetter>,
}

/// The body of `POST /api/queues/{q}/dead/requeue`: exactly one of `ids`, `reason`, `all`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequeueRequest {
    /// Requeue these dead letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<TaskId>>,
    /// Requeue every dead letter with this reason: `unknown_task`, `undecodable_arguments`,
    /// `malformed_message`, `attempts_exhausted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Requeue them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

/// How many dead letters were requeued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requeued {
    /// How many.
    pub requeued: usize,
}

/// How many messages were deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purged {
    /// How many.
    pub purged: usize,
}
