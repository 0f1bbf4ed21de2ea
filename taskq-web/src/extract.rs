//! Request extractors whose rejections are problem+json with a message a person can act on.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

/// A JSON body: `415` without `Content-Type: application/json`, `400` for text that is not
/// JSON, `413` past the size limit, `422` for JSON of the wrong shape.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => Err(json_rejection(&rejection, state.settings.body_limit)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection, limit: usize) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType {
            detail: "the body must be JSON: send it with `Content-Type: application/json`"
                .to_owned(),
        },
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest {
            detail: format!("the body is not valid JSON: {}", e.body_text()),
        },
        JsonRejection::JsonDataError(e) => ApiError::Validation {
            errors: vec![FieldError {
                pointer: String::new(),
                detail: e.body_text(),
            }],
        },
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge { limit }
        }
        other => ApiError::BadRequest {
            detail: format!("the body could not be read: {}", other.body_text()),
        },
    }
}

/// The path the API is mounted at (`""` at the root; `/taskq` when nested there), for links.
#[derive(Debug)]
pub(crate) struct Base(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let inner = parts.uri.path().to_owned();
        let outer = match OriginalUri::from_request_parts(parts, state).await {
            Ok(OriginalUri(u)) => u.path().to_owned(),
            Err(never) => match never {},
        };
        let base = outer
            .strip_suffix(inner.as_str())
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned();
        Ok(Base(base))
    }
}

/// A query string: `400` problem+json when it does not parse.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::BadRequest {
                detail: format!("the query string is not valid: {}", e.body_text()),
            }),
        }
    }
}
