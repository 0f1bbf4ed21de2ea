//! Dead letters: list, requeue (by ids, by reason, all), purge.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use taskq::backend::DeadSelection;
use taskq::DeadLetterReason;

use crate::api::{DeadLetterList, Purged, RequeueRequest, Requeued};
use crate::auth::{RequireAdmin, RequireOperator, RequireViewer};
use crate::extract::{ApiQuery, JsonBody};
use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

/// How many dead letters one backend call moves; calls repeat until done.
const BATCH: usize = 500;
/// The most a listing returns.
const MAX_LIMIT: usize = 1000;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/queues/{queue}/dead", get(list).delete(purge))
        .route("/api/queues/{queue}/dead/requeue", post(requeue))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    /// At most this many (100 by default, at most 1000).
    limit: Option<usize>,
}

/// `GET /api/queues/{queue}/dead?limit=`.
async fn list(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
    Path(queue): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<DeadLetterList>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    let items = state.client.backend().dead_letters(&queue, limit).await?;
    Ok(Json(DeadLetterList { queue, items }))
}

fn reason(s: &str, pointer: &str) -> Result<DeadLetterReason, ApiError> {
    serde_json::from_value(Value::String(s.trim().to_owned())).map_err(|_| ApiError::Validation {
        errors: vec![FieldError {
            pointer: pointer.to_owned(),
            detail: format!(
                "unknown reason `{s}`: expected `unknown_task`, `undecodable_arguments`, `malformed_message` or `attempts_exhausted`"
            ),
        }],
    })
}

/// `POST /api/queues/{queue}/dead/requeue` with `{"ids": [..]}`, `{"reason": ".."}` or
/// `{"all": true}`.
async fn requeue(
    State(state): State<Arc<AppState>>,
    RequireOperator(who): RequireOperator,
    Path(queue): Path<String>,
    JsonBody(body): JsonBody<RequeueRequest>,
) -> Result<Json<Requeued>, ApiError> {
    let select = match (body.ids, body.reason, body.all) {
        (Some(ids), None, None | Some(false)) => DeadSelection::Ids(ids),
        (None, Some(r), None | Some(false)) => DeadSelection::Reason(reason(&r, "/reason")?),
        (None, None, Some(true)) => DeadSelection::All,
        _ => {
            return Err(ApiError::Validation {
                errors: vec![FieldError {
                    pointer: String::new(),
                    detail:
                        "give exactly one of `ids` (a list of task ids), `reason` or `all: true`"
                            .to_owned(),
                }],
            })
        }
    };
    let requeued = drain(|| state.client.backend().requeue_dead(&queue, &select, BATCH)).await?;
    tracing::info!(queue = %queue, requeued, token = ?who.token_id, "dead letters requeued over the API");
    Ok(Json(Requeued { requeued }))
}

#[derive(Debug, Deserialize)]
struct PurgeQuery {
    /// Only the dead letters with this reason.
    reason: Option<String>,
}

/// `DELETE /api/queues/{queue}/dead?reason=`.
async fn purge(
    State(state): State<Arc<AppState>>,
    RequireAdmin(who): RequireAdmin,
    Path(queue): Path<String>,
    ApiQuery(q): ApiQuery<PurgeQuery>,
) -> Result<Json<Purged>, ApiError> {
    let select = match q.reason.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => DeadSelection::Reason(reason(r, "")?),
        None => DeadSelection::All,
    };
    let purged = drain(|| state.client.backend().purge_dead(&queue, &select, BATCH)).await?;
    tracing::warn!(queue = %queue, purged, token = ?who.token_id, "dead letters purged over the API");
    Ok(Json(Purged { purged }))
}

/// Calls `step` until it moves less than a batch; the total moved.
async fn drain<'a, F, Fut>(mut step: F) -> Result<usize, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, taskq::BackendError>> + 'a,
{
    let mut total = 0;
    loop {
        let n = step().await?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}
