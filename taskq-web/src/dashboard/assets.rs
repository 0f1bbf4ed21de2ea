//! The dashboard's static files, embedded in the binary: its stylesheet and script, and the
//! vendored htmx 2 with its SSE extension (from the npm registry, with their licenses, in
//! `assets/vendor/`). Nothing is built or downloaded to run the dashboard.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The stylesheet's path.
pub(crate) const CSS_PATH: &str = "/ui/assets/dashboard.css";
/// The dashboard's own script.
pub(crate) const JS_PATH: &str = "/ui/assets/dashboard.js";
/// htmx.
pub(crate) const HTMX_PATH: &str = "/ui/assets/vendor/htmx-2.0.11.min.js";
/// htmx's SSE extension.
pub(crate) const SSE_PATH: &str = "/ui/assets/vendor/htmx-ext-sse-2.2.4.min.js";

const CSS: &str = include_str!("../../assets/dashboard.css");
const JS: &str = include_str!("../../assets/dashboard.js");
const HTMX: &str = include_str!("../../assets/vendor/htmx-2.0.11.min.js");
const SSE: &str = include_str!("../../assets/vendor/htmx-ext-sse-2.2.4.min.js");

fn file(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, kind),
            // The vendored files carry their version in their name; the dashboard's own are
            // small: a short cache keeps an upgraded server's pages fresh.
            (CACHE_CONTROL, "public, max-age=300"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The routes of the static files.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            CSS_PATH,
            get(|| async { file(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            JS_PATH,
            get(|| async { file(JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            HTMX_PATH,
            get(|| async { file(HTMX, "text/javascript; charset=utf-8") }),
        )
        .route(
            SSE_PATH,
            get(|| async { file(SSE, "text/javascript; charset=utf-8") }),
        )
}
