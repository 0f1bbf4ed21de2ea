//! The dashboard's bulk actions, as JSON endpoints with the API's roles:
//!
//! - `POST /ui/actions/tasks` `{"action": "retry"|"revoke"|"delete", "ids": [...]}` or
//!   `{"action": ..., "filter": {...}, "cutoff": <ms>}` (everything matching the filter that
//!   was enqueued by `cutoff`, the time the operator saw the list: a message that arrived
//!   later is never touched). `retry` requeues dead letters, `revoke` revokes queued,
//!   scheduled or running tasks, `delete` does both for waiting tasks and purges dead letters.
//!   `retry` and `revoke` need `operator`, `delete` needs `admin`.
//! - `POST /ui/actions/dead` `{"action": "requeue"|"purge", "items": [{"queue", "id"}]}` or
//!   `{"action": ..., "queue": .., "reason": ..}` (every dead letter of the queue with that
//!   reason). `requeue` needs `operator`, `purge` needs `admin`.
//!
//! Only `Content-Type: application/json` bodies are accepted: with the `SameSite=Strict`
//! cookie, that is the CSRF guard (a cross-site form cannot send JSON without a preflight).
//! Every action is logged with the token id that asked.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use taskq::backend::{DeadSelection, ListState};
use taskq::{DeadLetterReason, TaskId, Timestamp};

use crate::auth::{Principal, RequireOperator, Role};
use crate::problem::ApiError;
use crate::state::AppState;

use super::filter::{self, Filter};

/// Dead letters moved per backend call.
const CHUNK: usize = 500;

/// What to do to tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TaskAction {
    Retry,
    Revoke,
    Delete,
}

/// The body of `POST /ui/actions/tasks`.
#[derive(Debug, Deserialize)]
pub(crate) struct TasksRequest {
    action: TaskAction,
    #[serde(default)]
    ids: Option<Vec<TaskId>>,
    #[serde(default)]
    filter: Option<Filter>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    cutoff: Option<u64>,
}

/// What an action did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Done {
    /// Tasks selected.
    pub matched: usize,
    /// Tasks it applied to.
    pub done: usize,
    /// Tasks it does not apply to (e.g. retry of a task that is not dead).
    pub skipped: usize,
}

fn need(who: &Principal, role: Role) -> Result<(), ApiError> {
    if who.can(role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            needed: role,
            have: who.role,
        })
    }
}

/// `POST /ui/actions/tasks`.
pub(crate) async fn tasks(
    RequireOperator(who): RequireOperator,
    State(app): State<Arc<AppState>>,
    Json(req): Json<TasksRequest>,
) -> Result<Json<Done>, ApiError> {
    if req.action == TaskAction::Delete {
        need(&who, Role::Admin)?;
    }
    let backend = app.client.backend();
    // (id, queue, dead?) of each selected task.
    let mut selected: Vec<(TaskId, String, bool)> = Vec::new();
    match (&req.ids, &req.filter) {
        (Some(ids), None) => {
            for &id in ids {
                if let Some(d) = backend.inspect(id).await? {
                    if d.state.is_final() && d.dead_reason.is_none() {
                        selected.push((id, String::new(), false));
                        continue;
                    }
                    let queue = d.queue.clone().unwrap_or_default();
                    selected.push((id, queue, d.dead_reason.is_some()));
                }
            }
        }
        (None, Some(filter)) => {
            let cutoff = req.cutoff.map(Timestamp);
            let scan = filter::scan(backend, filter, usize::MAX, cutoff).await?;
            for item in scan.items {
                let queue = item
                    .envelope
                    .as_ref()
                    .map(|e| e.queue.clone())
                    .or_else(|| filter.queue().map(str::to_owned))
                    .unwrap_or_default();
                selected.push((item.id, queue, item.state == ListState::Dead));
            }
        }
        _ => {
            return Err(ApiError::BadRequest {
                detail: "give either `ids` (a selection) or `filter` (everything matching it)"
                    .into(),
            })
        }
    }
    let mut out = Done {
        matched: selected.len(),
        ..Done::default()
    };
    let mut dead_by_queue: BTreeMap<String, Vec<TaskId>> = BTreeMap::new();
    for (id, queue, dead) in selected {
        match (req.action, dead) {
            (TaskAction::Retry | TaskAction::Delete, true) => {
                dead_by_queue.entry(queue).or_default().push(id)
            }
            (TaskAction::Revoke | TaskAction::Delete, false) if !queue.is_empty() => {
                match app.client.revoke(id).await? {
                    taskq::backend::CancelOutcome::NotFound => out.skipped += 1,
                    _ => out.done += 1,
                }
            }
            _ => out.skipped += 1,
        }
    }
    for (queue, ids) in dead_by_queue {
        for chunk in ids.chunks(CHUNK) {
            let select = DeadSelection::Ids(chunk.to_vec());
            let n = if req.action == TaskAction::Retry {
                backend.requeue_dead(&queue, &select, chunk.len()).await?
            } else {
                backend.purge_dead(&queue, &select, chunk.len()).await?
            };
            out.done += n;
            out.skipped += chunk.len() - n.min(chunk.len());
        }
    }
    tracing::info!(
        token = who.token_id.as_deref().unwrap_or("anonymous"),
        action = ?req.action,
        by_filter = req.filter.is_some(),
        matched = out.matched,
        done = out.done,
        "dashboard: bulk task action"
    );
    Ok(Json(out))
}

/// What to do to dead letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DeadAction {
    Requeue,
    Purge,
}

/// One dead letter.
#[derive(Debug, Deserialize)]
pub(crate) struct Item {
    queue: String,
    id: TaskId,
}

/// The body of `POST /ui/actions/dead`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeadRequest {
    action: DeadAction,
    #[serde(default)]
    items: Option<Vec<Item>>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /ui/actions/dead`.
pub(crate) async fn dead(
    RequireOperator(who): RequireOperator,
    State(app): State<Arc<AppState>>,
    Json(req): Json<DeadRequest>,
) -> Result<Json<Done>, ApiError> {
    if req.action == DeadAction::Purge {
        need(&who, Role::Admin)?;
    }
    let backend = app.client.backend();
    let mut out = Done::default();
    let apply = |queue: String, select: DeadSelection, limit: usize| {
        let backend = Arc::clone(backend);
        async move {
            if req.action == DeadAction::Requeue {
                backend.requeue_dead(&queue, &select, limit).await
            } else {
                backend.purge_dead(&queue, &select, limit).await
            }
        }
    };
    match (req.items, req.queue, req.reason) {
        (Some(items), None, None) => {
            out.matched = items.len();
            let mut by_queue: BTreeMap<String, Vec<TaskId>> = BTreeMap::new();
            for i in items {
                by_queue.entry(i.queue).or_default().push(i.id);
            }
            for (queue, ids) in by_queue {
                for chunk in ids.chunks(CHUNK) {
                    out.done += apply(
                        queue.clone(),
                        DeadSelection::Ids(chunk.to_vec()),
                        chunk.len(),
                    )
                    .await?;
                }
            }
        }
        (None, Some(queue), Some(reason)) => {
            let reason: DeadLetterReason = serde_json::from_value(serde_json::Value::String(
                reason.clone(),
            ))
            .map_err(|_| ApiError::BadRequest {
                detail: format!(
                    "unknown dead-letter reason `{reason}`: expected one of \
                             unknown_task, undecodable_arguments, malformed_message, \
                             attempts_exhausted"
                ),
            })?;
            loop {
                let n = apply(queue.clone(), DeadSelection::Reason(reason), CHUNK).await?;
                out.done += n;
                if n < CHUNK {
                    break;
                }
            }
            out.matched = out.done;
        }
        _ => {
            return Err(ApiError::BadRequest {
                detail: "give either `items` (a selection of {queue, id}) or `queue` and \
                         `reason` (all dead letters of the queue with that reason)"
                    .into(),
            })
        }
    }
    out.skipped = out.matched.saturating_sub(out.done);
    tracing::info!(
        token = who.token_id.as_deref().unwrap_or("anonymous"),
        action = ?req.action,
        matched = out.matched,
        done = out.done,
        "dashboard: dead-letter action"
    );
    Ok(Json(out))
}
