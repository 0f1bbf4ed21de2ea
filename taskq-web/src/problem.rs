//! Errors as `application/problem+json` (RFC 9457): every error the API answers has a `type`,
//! a `title`, the `status`, and a `detail` a person can act on; a `422` also lists every field
//! error in `errors: [{pointer, detail}]` (JSON Pointers into the request body).
//!
//! ```
//! use axum::response::IntoResponse;
//! let e = taskq_web::ApiError::UnknownTask { name: "nope".into() };
//! let response = e.into_response();
//! assert_eq!(response.status(), 404);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! ```

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::Role;

/// The media type of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field of a request body that is not valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// A JSON Pointer (RFC 6901) to the field in the body: `/a`, `/options/priority`; `""`
    /// for the body itself.
    pub pointer: String,
    /// What is wrong with it.
    pub detail: String,
}

/// An error body (RFC 9457 problem details).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` style: `tag:taskq,2025:<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong here, and what to do about it.
    pub detail: String,
    /// For a `422`: every field error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// What a handler fails with; each variant becomes one status and problem kind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// `400`: the request is malformed (bad JSON, a bad query parameter).
    #[error("{detail}")]
    BadRequest {
        /// What is wrong, and how to fix it.
        detail: String,
    },
    /// `401`: no valid token.
    #[error("{reason}")]
    Unauthorized {
        /// Why.
        reason: &'static str,
    },
    /// `403`: the token's role may not do this.
    #[error("this needs the `{needed}` role; the token has `{have}`")]
    Forbidden {
        /// The role needed.
        needed: Role,
        /// The role the principal has.
        have: Role,
    },
    /// `404`: no task of that name is registered.
    #[error("no task named `{name}` is registered in this server (see GET /openapi.json for the tasks it knows)")]
    UnknownTask {
        /// The name asked for.
        name: String,
    },
    /// `404`: no workflow of that name is registered.
    #[error("no workflow named `{name}` is registered in this server (see GET /openapi.json)")]
    UnknownWorkflow {
        /// The name asked for.
        name: String,
    },
    /// `404`: something else does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What (`task 6f1c…`).
        what: String,
    },
    /// `405`: the path exists, the method does not.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// `409`: the request conflicts with the resource's state.
    #[error("{detail}")]
    Conflict {
        /// Why.
        detail: String,
    },
    /// `413`: the body is larger than the server accepts.
    #[error("the request body is larger than the {limit} bytes this server accepts")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// `415`: the body is not JSON.
    #[error("{detail}")]
    UnsupportedMediaType {
        /// What was expected.
        detail: String,
    },
    /// `422`: the body is JSON but does not fit the schema.
    #[error("the request body does not fit the schema: {} error(s)", errors.len())]
    Validation {
        /// Every field error.
        errors: Vec<FieldError>,
    },
    /// `422`: the `Idempotency-Key` was used before with another body.
    #[error("the Idempotency-Key `{key}` was already used with a different request body; use a new key for a new request")]
    IdempotencyMismatch {
        /// The key.
        key: String,
    },
    /// `500`: a handler panicked.
    #[error("the server failed unexpectedly; the error is in its log")]
    Panic,
    /// `503` (unreachable backend) or `500`: the backend failed.
    #[error("the backend failed: {0}")]
    Backend(#[from] taskq::Error),
    /// `501`: the backend cannot do this.
    #[error("the backend cannot do this: {0}")]
    Unsupported(String),
}

impl From<taskq::BackendError> for ApiError {
    fn from(e: taskq::BackendError) -> Self {
        ApiError::from(taskq::Error::from(e))
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::UnknownTask { .. }
            | ApiError::UnknownWorkflow { .. }
            | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation { .. } | ApiError::IdempotencyMismatch { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Panic => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Backend(e) => backend_status(e),
            ApiError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// The problem kind, the last part of its `type` URI.
    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::UnknownTask { .. } => "unknown-task",
            ApiError::UnknownWorkflow { .. } => "unknown-workflow",
            ApiError::NotFound { .. } => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType { .. } => "unsupported-media-type",
            ApiError::Validation { .. } => "validation",
            ApiError::IdempotencyMismatch { .. } => "idempotency-key-reused",
            ApiError::Panic => "internal",
            ApiError::Backend(_) => "backend",
            ApiError::Unsupported(_) => "unsupported",
        }
    }

    /// The body.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        Problem {
            kind: format!("tag:taskq,2025:{}", self.kind()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            errors: match self {
                ApiError::Validation { errors } => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

fn backend_status(e: &taskq::Error) -> StatusCode {
    match e {
        taskq::Error::Backend(taskq::BackendError::Unsupported { .. }) => {
            StatusCode::NOT_IMPLEMENTED
        }
        taskq::Error::Backend(taskq::BackendError::InvalidCursor { .. }) => StatusCode::BAD_REQUEST,
        taskq::Error::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = problem_response(&self.problem());
        if matches!(self, ApiError::Unauthorized { .. }) {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="taskq""#),
            );
        }
        response
    }
}

/// A problem as a response with its status and `application/problem+json`.
pub(crate) fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}
