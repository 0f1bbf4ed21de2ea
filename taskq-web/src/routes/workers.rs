//! `GET /api/workers`: the live workers, as their heartbeats describe them.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::api::WorkerList;
use crate::auth::RequireViewer;
use crate::problem::ApiError;
use crate::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/workers", get(list))
}

async fn list(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
) -> Result<Json<WorkerList>, ApiError> {
    Ok(Json(WorkerList {
        workers: state.client.workers().await?,
    }))
}
