//! What every handler shares: the backend's client, the authentication configuration, the
//! catalog of tasks and workflows, and the settings.

use std::time::Duration;

use crate::auth::AuthConfig;
use crate::catalog::Catalog;

/// The state of one router, shared by its handlers as `Arc<AppState>`.
///
/// Nothing in it is task state: every answer is read from the backend through `client`, so a
/// restarted server shows the same history.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The backend's client: `client.backend()` for queues, events, dead letters, workers.
    pub(crate) client: taskq::Client,
    /// The tokens and the anonymous role.
    pub(crate) auth: AuthConfig,
    /// The tasks and workflows this server knows, with their schemas.
    pub(crate) catalog: Catalog,
    /// Limits and switches.
    pub(crate) settings: Settings,
    /// The OpenAPI document, serialized once at start-up.
    pub(crate) openapi: axum::body::Bytes,
    /// taskq's Prometheus recorder; `None` when the process has another one.
    pub(crate) metrics: Option<taskq::telemetry::PrometheusHandle>,
}

/// Limits and switches of a router.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The largest request body accepted, in bytes.
    pub(crate) body_limit: usize,
    /// The longest `?wait=` a status request may wait.
    pub(crate) max_wait: Duration,
    /// Accept task names that are not registered, with any JSON object as arguments.
    pub(crate) any_task: bool,
}
