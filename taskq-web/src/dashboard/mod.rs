//! The dashboard (stub for the shadow build).

use std::sync::Arc;

use crate::state::AppState;

/// The dashboard's routes.
pub(crate) fn routes() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
}
