//! `GET /metrics`: taskq's metrics in the Prometheus text format — the families a worker
//! serves (`taskq::telemetry::names`), from the same recorder
//! ([`taskq::telemetry::install_prometheus`]); a server that submits tasks counts them in
//! `taskq_tasks_submitted_total`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::RequireViewer;
use crate::problem::ApiError;
use crate::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
) -> Result<Response, ApiError> {
    let handle = state.metrics.as_ref().ok_or_else(|| {
        ApiError::Unsupported(
            "metrics: the process has a `metrics` recorder that is not taskq's; serve that one"
                .to_owned(),
        )
    })?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response())
}
