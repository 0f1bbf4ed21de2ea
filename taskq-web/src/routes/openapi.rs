//! `GET /openapi.json`: the OpenAPI 3.1 document, assembled once at start-up (see the crate's
//! `openapi` module).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::RequireViewer;
use crate::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/openapi.json", get(document))
}

async fn document(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
) -> Response {
    ([(CONTENT_TYPE, "application/json")], state.openapi.clone()).into_response()
}
