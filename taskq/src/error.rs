//! Errors.

use std::time::Duration;

use crate::message::{TaskFailure, TaskId};

/// A boxed error from a backend's own client library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in taskq.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),

    /// The task ran and failed (for good, after its retries).
    #[error("task {id}{} failed: {failure}", named(.task))]
    TaskFailed {
        /// The task's id.
        id: TaskId,
        /// The task's name, when known.
        task: String,
        /// The failure: its kind and message.
        failure: TaskFailure,
    },

    /// No result arrived within the time given to [`AsyncResult::get_timeout`](crate::AsyncResult::get_timeout).
    #[error("no result for task {id} within {waited:?}; it may still be queued or running")]
    ResultTimeout {
        /// The task's id.
        id: TaskId,
        /// How long we waited.
        waited: Duration,
    },

    /// The task's result is not stored: the task was sent with `ignore_result`, or its result
    /// expired.
    #[error("task {id} has no stored result (sent with `ignore_result`, or its result expired)")]
    NoResult {
        /// The task's id.
        id: TaskId,
    },

    /// Arguments or a result could not be serialized.
    #[error("could not serialize {what}: {source}")]
    Encode {
        /// What was being serialized.
        what: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// A stored result does not deserialize into the expected type.
    #[error("the result of task {id} does not deserialize into the expected type: {source}")]
    DecodeResult {
        /// The task's id.
        id: TaskId,
        /// The deserializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// Arguments given as JSON do not fit.
    #[error("the arguments of `{what}` do not decode: {source}")]
    DecodeArguments {
        /// Whose arguments.
        what: &'static str,
        /// The deserializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// A string is not a task id.
    #[error(
        "`{0}` is not a task id (expected a UUID such as `67e55044-10b1-426f-9247-bb680e5fe0c8`)"
    )]
    InvalidTaskId(String),

    /// A configuration value is wrong.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),

    /// The task registry is inconsistent.
    #[error(transparent)]
    Registry(#[from] RegistryError),

    /// A workflow cannot be built.
    #[error("invalid workflow: {0}")]
    Workflow(#[from] WorkflowError),

    /// A worker's own loop panicked (a bug in taskq or a backend; tasks' panics never get here).
    #[error("the worker crashed: {source}")]
    WorkerCrashed {
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
}

fn named(task: &str) -> String {
    if task.is_empty() {
        String::new()
    } else {
        format!(" (`{task}`)")
    }
}

/// Why a workflow cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// A group with no member.
    #[error("a group needs at least one member")]
    EmptyGroup,
    /// Two DAG steps share a name.
    #[error("two steps are named `{0}`; step names must be unique")]
    DuplicateStepName(String),
    /// More steps than a plan can index.
    #[error("a workflow may have at most 2^32 steps")]
    TooManySteps,
    /// A step refers to a step that does not exist (a `StepRef` of another DAG).
    #[error("a step refers to a step that does not exist; use `StepRef`s of the same `Dag`")]
    NoSuchStep,
    /// A step's arguments are not a JSON object, so no input can be put in them.
    #[error("the arguments of step `{0}` are not a JSON object")]
    ArgumentsNotObject(String),
    /// No workflow of that name is registered.
    #[error("no workflow named `{0}` is registered in this binary")]
    UnknownWorkflow(String),
}

/// A configuration problem: a URL, an environment variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No backend handles this URL's scheme.
    #[error("no backend for URL `{url}`: scheme `{scheme}` is not one of {known}; link the crate that provides it (for `redis://`, add `taskq-redis`)")]
    UnknownScheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
        /// The schemes that are available.
        known: String,
    },
    /// An environment variable has a value that does not parse.
    #[error("environment variable `{name}` is `{value}`: {expected}")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The process-wide client was installed twice.
    #[error(
        "the process-wide client is already set; install it once, before the first `.delay()`"
    )]
    ClientAlreadySet,
    /// A worker was asked to serve no queue.
    #[error(
        "the worker has no queue to serve: register a task or name queues with `TASKQ_QUEUES`"
    )]
    NoQueues,
    /// A setting is out of range.
    #[error("`{name}` must be {expected}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// The accepted range.
        expected: &'static str,
    },
}

/// The task registry is inconsistent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two tasks are registered under one name.
    #[error("two tasks are named `{name}`: one at {first}, one at {second}; give one of them another `name = \"...\"`")]
    DuplicateName {
        /// The name.
        name: String,
        /// Where the first is declared (`file:line`).
        first: String,
        /// Where the second is declared.
        second: String,
    },
}

/// A backend failed to do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// Could not connect, or lost the connection and could not get it back in time.
    #[error("cannot reach the {backend} backend at `{url}`: {source}")]
    Unavailable {
        /// Which backend (`redis`, ...).
        backend: &'static str,
        /// The URL, with any password removed.
        url: String,
        /// The client library's error.
        #[source]
        source: BoxError,
    },
    /// A command failed.
    #[error("{backend} backend: {source}")]
    Command {
        /// Which backend.
        backend: &'static str,
        /// The client library's error.
        #[source]
        source: BoxError,
    },
    /// Data in the backend does not have the shape taskq writes.
    #[error("{backend} backend: corrupt data at `{key}`: {detail}")]
    Corrupt {
        /// Which backend.
        backend: &'static str,
        /// Where.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// The URL is not one this backend accepts.
    #[error("invalid {backend} URL `{url}`: {detail}")]
    InvalidUrl {
        /// Which backend.
        backend: &'static str,
        /// The URL.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The backend does not implement this operation.
    #[error("the {backend} backend does not support {what}")]
    Unsupported {
        /// Which backend.
        backend: &'static str,
        /// The operation.
        what: &'static str,
    },
    /// The backend has been shut down.
    #[error("the {0} backend is closed")]
    Closed(&'static str),
    /// A page cursor that this backend did not give out (the caller's mistake, not the
    /// backend's: an API answers it with 400).
    #[error("`{cursor}` is not a page cursor the {backend} backend gave out; start from the first page (no cursor) and pass on the `next` it answers")]
    InvalidCursor {
        /// Which backend.
        backend: &'static str,
        /// The cursor as given.
        cursor: String,
    },
}
