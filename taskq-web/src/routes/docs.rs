//! `/docs`: interactive API docs (RapiDoc, embedded: nothing is downloaded, at build time or
//! in the browser). The page and its script need no token; the document they show,
//! `/openapi.json`, needs a viewer's (the dashboard's login cookie, or anonymous access).

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

use crate::extract::Base;
use crate::state::AppState;

/// RapiDoc 9.3.8 (MIT, `taskq-web/assets/docs/RAPIDOC-LICENSE.txt`), from the npm package
/// `rapidoc`.
const RAPIDOC_JS: &[u8] = include_bytes!("../../assets/docs/rapidoc-min.js");

/// Only this server's own script, styles inline, no remote fonts or fetches.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/docs", get(page))
        .route(
            "/docs/",
            get(|Base(base): Base| async move { Redirect::permanent(&format!("{base}/docs")) }),
        )
        .route("/docs/rapidoc-min.js", get(script))
}

async fn page(Base(base): Base) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskq API</title>
<script type="module" src="{base}/docs/rapidoc-min.js"></script>
</head>
<body style="margin:0">
<rapi-doc spec-url="{base}/openapi.json" render-style="read" theme="light"
  regular-font="system-ui, -apple-system, 'Segoe UI', sans-serif" mono-font="ui-monospace, monospace"
  load-fonts="false" allow-server-selection="false" show-header="false"
  allow-authentication="true" persist-auth="false"></rapi-doc>
</body>
</html>"#
    );
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, CSP),
        ],
        html,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        RAPIDOC_JS,
    )
        .into_response()
}
