//! The API's request and response bodies (serde, documented); the routes live apart, in the
//! crate's `routes` module. Times are RFC 3339 strings in UTC; durations in options accept
//! `"10s"`, `"1m 30s"` or a number of seconds.

mod dead;
mod health;
mod queues;
mod status;
mod submit;
mod time;
mod workflows;

pub use dead::{DeadLetterList, Purged, RequeueRequest, Requeued};
pub use health::Health;
pub use queues::{QueueInfo, QueueList, TaskList, WorkerList};
pub use status::{Revoked, TaskError, TaskStatus};
pub use submit::{Links, SubmitOptions, TaskAccepted};
pub use time::rfc3339;
pub use workflows::WorkflowStarted;

pub(crate) use submit::{options_schema, parse_duration, Overrides};
