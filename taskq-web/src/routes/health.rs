//! `GET /healthz`: whether the server can reach its backend. No authentication.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use crate::api::Health;
use crate::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/healthz", get(healthz))
}

/// `200 {"status":"ok"}` when the backend answers, `503 {"status":"unavailable"}` otherwise.
async fn healthz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Health>) {
    let backend = state.client.backend();
    match backend.queue_stats(taskq::DEFAULT_QUEUE).await {
        Ok(_) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                backend: backend.name(),
                error: None,
            }),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable",
                backend: backend.name(),
                error: Some(e.to_string()),
            }),
        ),
    }
}
