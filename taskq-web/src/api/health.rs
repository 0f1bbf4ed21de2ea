//! The body of `GET /healthz`.

use serde::Serialize;

/// Whether the server can reach its backend.
#[derive(Clone, Debug, Serialize)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// The backend's name (`redis`, `memory`).
    pub backend: &'static str,
    /// Why the backend cannot be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
