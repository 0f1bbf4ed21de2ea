//! Queues: counts, paged listings, pause and resume, purge.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use taskq::backend::ListState;

use crate::api::{Purged, QueueInfo, QueueList, TaskList};
use crate::auth::{RequireAdmin, RequireOperator, RequireViewer};
use crate::extract::ApiQuery;
use crate::problem::ApiError;
use crate::state::AppState;

/// The default page size of a listing.
const DEFAULT_LIMIT: usize = 50;
/// The largest page size.
const MAX_LIMIT: usize = 500;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/queues", get(list))
        .route("/api/queues/{queue}", get(one).delete(purge))
        .route("/api/queues/{queue}/tasks", get(tasks))
        .route("/api/queues/{queue}/pause", post(pause))
        .route("/api/queues/{queue}/resume", post(resume))
}

/// Every queue the backend has seen, and those the registered tasks name.
pub(crate) async fn queue_names(state: &AppState) -> Result<Vec<String>, ApiError> {
    let mut names: BTreeSet<String> = state
        .catalog
        .tasks
        .values()
        .map(|t| t.entry.options.queue.to_owned())
        .collect();
    match state.client.backend().queues().await {
        Ok(qs) => names.extend(qs),
        Err(taskq::BackendError::Unsupported { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(names.into_iter().collect())
}

/// `GET /api/queues`.
async fn list(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
) -> Result<Json<QueueList>, ApiError> {
    let backend = state.client.backend();
    let mut queues = Vec::new();
    for name in queue_names(&state).await? {
        let stats = backend.queue_stats(&name).await?;
        queues.push(QueueInfo::new(name, stats));
    }
    Ok(Json(QueueList { queues }))
}

/// `GET /api/queues/{queue}`.
async fn one(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
    Path(queue): Path<String>,
) -> Result<Json<QueueInfo>, ApiError> {
    let stats = state.client.backend().queue_stats(&queue).await?;
    Ok(Json(QueueInfo::new(queue, stats)))
}

/// The query of a listing.
#[derive(Debug, Deserialize)]
struct ListQuery {
    /// `ready`, `scheduled`, `leased` or `dead` (`ready` by default).
    state: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// At most this many (50 by default, at most 500).
    limit: Option<usize>,
}

/// `GET /api/queues/{queue}/tasks?state=&cursor=&limit=`.
async fn tasks(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
    Path(queue): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<TaskList>, ApiError> {
    let list_state = match q.state.as_deref() {
        None | Some("") => ListState::Ready,
        Some(s) => {
            s.parse()
                .map_err(|e: taskq::backend::UnknownListState| ApiError::BadRequest {
                    detail: e.to_string(),
                })?
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let page = state
        .client
        .backend()
        .list_tasks(&queue, list_state, q.cursor.as_deref(), limit)
        .await?;
    Ok(Json(TaskList {
        items: page.items,
        next: page.next,
        total: page.total,
    }))
}

/// `POST /api/queues/{queue}/pause`.
async fn pause(
    State(state): State<Arc<AppState>>,
    RequireOperator(who): RequireOperator,
    Path(queue): Path<String>,
) -> Result<Json<QueueInfo>, ApiError> {
    let backend = state.client.backend();
    backend.pause_queue(&queue).await?;
    tracing::info!(queue = %queue, token = ?who.token_id, "queue paused over the API");
    Ok(Json(QueueInfo::new(
        queue.clone(),
        backend.queue_stats(&queue).await?,
    )))
}

/// `POST /api/queues/{queue}/resume`.
async fn resume(
    State(state): State<Arc<AppState>>,
    RequireOperator(who): RequireOperator,
    Path(queue): Path<String>,
) -> Result<Json<QueueInfo>, ApiError> {
    let backend = state.client.backend();
    backend.resume_queue(&queue).await?;
    tracing::info!(queue = %queue, token = ?who.token_id, "queue resumed over the API");
    Ok(Json(QueueInfo::new(
        queue.clone(),
        backend.queue_stats(&queue).await?,
    )))
}

/// `DELETE /api/queues/{queue}`: deletes the waiting (ready and scheduled) tasks; running
/// tasks and dead letters stay.
async fn purge(
    State(state): State<Arc<AppState>>,
    RequireAdmin(who): RequireAdmin,
    Path(queue): Path<String>,
) -> Result<Json<Purged>, ApiError> {
    let purged = state.client.backend().purge_queue(&queue).await?;
    tracing::warn!(queue = %queue, purged, token = ?who.token_id, "queue purged over the API");
    Ok(Json(Purged { purged }))
}
