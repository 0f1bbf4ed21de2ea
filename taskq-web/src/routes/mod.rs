//! The API's routes, one file per resource; each file's `routes()` is merged here.

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

mod dead;
mod docs;
mod events;
mod health;
mod metrics;
mod openapi;
pub(crate) mod queues;
mod tasks;
mod workers;
mod workflows;

/// Every API route.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(health::routes())
        .merge(tasks::routes())
        .merge(workflows::routes())
        .merge(queues::routes())
        .merge(dead::routes())
        .merge(workers::routes())
        .merge(events::routes())
        .merge(metrics::routes())
        .merge(openapi::routes())
        .merge(docs::routes())
}
