//! Tasks: `POST /api/tasks` (the union body), `POST /api/tasks/{name}` (one task's body),
//! `GET /api/tasks/{id}` (with `?wait=`), `DELETE /api/tasks/{id}` (revoke).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};
use taskq::backend::CancelOutcome;
use taskq::TaskId;

use crate::api::{parse_duration, Revoked, TaskAccepted, TaskStatus};
use crate::auth::{RequireOperator, RequireViewer};
use crate::extract::{ApiQuery, Base, JsonBody};
use crate::problem::{ApiError, FieldError};
use crate::state::AppState;
use crate::submit::{submit, Submit};

/// The header that makes a submit idempotent.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    // One parameter name for the path: `POST` takes a task name there, `GET` and `DELETE` an id.
    Router::new().route("/api/tasks", post(submit_union)).route(
        "/api/tasks/{key}",
        post(submit_named).get(status).delete(revoke),
    )
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    match headers.get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::BadRequest {
                detail: "the Idempotency-Key header must be visible ASCII".to_owned(),
            }),
    }
}

fn accepted(a: TaskAccepted) -> Response {
    let location = HeaderValue::from_str(&a.links.this).ok();
    let mut response = (StatusCode::ACCEPTED, Json(a)).into_response();
    if let Some(l) = location {
        response.headers_mut().insert(LOCATION, l);
    }
    response
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(o) => Ok(o),
        other => Err(ApiError::Validation {
            errors: vec![FieldError {
                pointer: String::new(),
                detail: format!("the body must be a JSON object, not {}", kind(&other)),
            }],
        }),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `POST /api/tasks`: `{"task": "<name>", ...arguments, "options": {...}}`.
async fn submit_union(
    State(state): State<Arc<AppState>>,
    RequireOperator(_who): RequireOperator,
    Base(base): Base,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let mut body = object(body)?;
    let name = match body.remove("task") {
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(ApiError::Validation {
                errors: vec![FieldError {
                    pointer: "/task".to_owned(),
                    detail: format!(
                        "`task` must be a task's name (a string), not {}",
                        kind(&other)
                    ),
                }],
            })
        }
        None => {
            return Err(ApiError::Validation {
                errors: vec![FieldError {
                    pointer: "/task".to_owned(),
                    detail: "`task` is required: the name of the task to run".to_owned(),
                }],
            })
        }
    };
    submit_body(&state, &name, body, &headers, &base).await
}

/// `POST /api/tasks/{name}`: the arguments and `options`, without `task`.
async fn submit_named(
    State(state): State<Arc<AppState>>,
    RequireOperator(_who): RequireOperator,
    Base(base): Base,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    // Unknown names are answered before the body is looked at.
    if !state.catalog.tasks.contains_key(name.as_str()) && !state.settings.any_task {
        return Err(ApiError::UnknownTask { name });
    }
    let body = object(body)?;
    submit_body(&state, &name, body, &headers, &base).await
}

/// Submits `body` as task `name`'s and answers `202 Accepted`.
async fn submit_body(
    state: &AppState,
    name: &str,
    body: serde_json::Map<String, Value>,
    headers: &HeaderMap,
    base: &str,
) -> Result<Response, ApiError> {
    let a = submit(
        state,
        Submit {
            name,
            body,
            idempotency_key: idempotency_key(headers)?,
            base,
        },
    )
    .await?;
    Ok(accepted(a))
}

fn task_id(s: &str) -> Result<TaskId, ApiError> {
    s.parse().map_err(|_| ApiError::NotFound {
        what: format!("task `{s}` (not a task id: ids are UUIDs)"),
    })
}

/// The query of `GET /api/tasks/{id}`.
#[derive(Debug, Deserialize)]
struct StatusQuery {
    /// Wait up to this long for a final state: `"30s"` or seconds.
    wait: Option<String>,
}

/// `GET /api/tasks/{id}`.
async fn status(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
    Base(base): Base,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> Result<Json<TaskStatus>, ApiError> {
    let id = task_id(&id)?;
    let wait = match q.wait.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(w) => Some(
            parse_duration(w)
                .ok_or_else(|| ApiError::BadRequest {
                    detail: format!(
                        "`wait={w}` is not a duration: write `30s` or a number of seconds"
                    ),
                })?
                .min(state.settings.max_wait),
        ),
    };
    let not_found = || ApiError::NotFound {
        what: format!("task {id}"),
    };
    let wait = wait.filter(|w| !w.is_zero());
    let mut detail = match (state.client.inspect(id).await?, wait) {
        (Some(d), _) => d,
        // A workflow's id is its last step's, which exists only once the steps before it
        // are done: with `?wait=` wait for it like for any other task.
        (None, Some(wait)) => {
            let _ = state.client.backend().wait_result(id, Some(wait)).await?;
            state.client.inspect(id).await?.ok_or_else(not_found)?
        }
        (None, None) => return Err(not_found()),
    };
    if let Some(wait) = wait {
        if !detail.state.is_final() {
            // Woken by the completion itself (the backend's notification), never by polling.
            let started = std::time::Instant::now();
            let _ = state.client.backend().wait_result(id, Some(wait)).await?;
            detail = state.client.inspect(id).await?.ok_or_else(not_found)?;
            // A task requeued from the dead letters can have its earlier outcome still
            // stashed in this process: that wait answered at once with it. Wait once more,
            // for the outcome of the run that is going on now.
            let left = wait.saturating_sub(started.elapsed());
            if !detail.state.is_final() && !left.is_zero() {
                let _ = state.client.backend().wait_result(id, Some(left)).await?;
                detail = state.client.inspect(id).await?.ok_or_else(not_found)?;
            }
        }
    }
    Ok(Json(TaskStatus::from_detail(&base, detail)))
}

/// `DELETE /api/tasks/{id}`: `202` with what was done, `409` when already final.
async fn revoke(
    State(state): State<Arc<AppState>>,
    RequireOperator(who): RequireOperator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let detail = state
        .client
        .inspect(id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: format!("task {id}"),
        })?;
    let already = || ApiError::Conflict {
        detail: format!(
            "task {id} is already {}: there is nothing to revoke",
            serde_json::to_value(detail.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
    };
    if detail.state.is_final() {
        return Err(already());
    }
    let outcome = match state.client.revoke(id).await? {
        CancelOutcome::Removed => "removed",
        CancelOutcome::Signalled => "signalled",
        _ => return Err(already()),
    };
    tracing::info!(task_id = %id, token = ?who.token_id, outcome, "revoked over the API");
    Ok((
        StatusCode::ACCEPTED,
        Json(Revoked {
            id,
            outcome: outcome.to_owned(),
        }),
    )
        .into_response())
}
