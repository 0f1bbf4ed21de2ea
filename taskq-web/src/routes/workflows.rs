//! `POST /api/workflows/{name}`: starts a registered `#[workflow]` with JSON arguments.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use taskq::Payload;

use crate::api::{Links, WorkflowStarted};
use crate::auth::RequireOperator;
use crate::extract::{Base, JsonBody};
use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/workflows/{name}", post(start))
}

/// Checks the body against the workflow's schema (every field error at once), then starts it.
async fn start(
    State(state): State<Arc<AppState>>,
    RequireOperator(who): RequireOperator,
    Base(base): Base,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let info = state
        .catalog
        .workflows
        .get(name.as_str())
        .ok_or_else(|| ApiError::UnknownWorkflow { name: name.clone() })?;
    if !body.is_object() {
        return Err(ApiError::Validation {
            errors: vec![FieldError {
                pointer: String::new(),
                detail: "the body must be a JSON object of the workflow's arguments".to_owned(),
            }],
        });
    }
    let errors = info.schemas.check(&body);
    if !errors.is_empty() {
        return Err(ApiError::Validation { errors });
    }
    let args = Payload::encode(&body).map_err(|e| ApiError::BadRequest {
        detail: format!("the arguments do not encode: {e}"),
    })?;
    let id = (info.entry.start)(state.client.clone(), args)
        .await
        .map_err(|e| match e {
            taskq::Error::DecodeArguments { source, .. } => ApiError::Validation {
                errors: vec![FieldError {
                    pointer: String::new(),
                    detail: format!("the arguments do not decode as `{name}`: {source}"),
                }],
            },
            other => ApiError::from(other),
        })?;
    tracing::info!(workflow = %name, id = %id, token = ?who.token_id, "workflow started over the API");
    let links = Links::of(&base, id);
    let location = HeaderValue::from_str(&links.this).ok();
    let mut response = (
        StatusCode::ACCEPTED,
        Json(WorkflowStarted {
            id,
            workflow: name,
            links,
        }),
    )
        .into_response();
    if let Some(l) = location {
        response.headers_mut().insert(LOCATION, l);
    }
    Ok(response)
}
