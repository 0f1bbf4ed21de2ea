//! The API's routes, one file per resource; each file's `routes()` is merged here.

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

mod health;

/// Every API route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().merge(health::routes())
}
