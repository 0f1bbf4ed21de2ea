//! Errors of the Celery codec and client.

/// What can go wrong reading or writing Celery messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CeleryError {
    /// A message is not a Celery protocol-2 JSON message.
    #[error("malformed Celery message: {0}")]
    Malformed(String),
    /// The arguments of a message do not fit the Rust task's parameters.
    #[error("{0}")]
    Arguments(String),
    /// JSON (de)serialization failed.
    #[error("JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The URL is not a `celery+redis://` URL this crate understands.
    #[error("invalid celery+redis URL `{url}`: {detail}")]
    Url {
        /// The URL, without its password.
        url: String,
        /// What is wrong.
        detail: String,
    },
}
