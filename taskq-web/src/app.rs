//! Assembles the router: the API routes, the dashboard, the fallbacks, and the layers (body
//! limit, panics, tracing, sensitive headers).

use std::any::Any;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::problem::{ApiError, PROBLEM_JSON};
use crate::state::AppState;

/// The whole router on `state`.
pub(crate) fn build(state: Arc<AppState>) -> Router {
    let limit = state.settings.body_limit;
    let router = Router::new()
        .merge(crate::routes::routes())
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    with_layers(router, limit)
}

/// The layers around every route.
fn with_layers(router: Router, limit: usize) -> Router {
    router
        // Innermost first: the limit applies to the body the handlers read; a `413` it answers
        // is turned into problem+json on the way out.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn(move |req, next| {
            problem_for_plain_413(req, next, limit)
        }))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveHeadersLayer::new([
            AUTHORIZATION,
            COOKIE,
            SET_COOKIE,
        ]))
}

async fn not_found() -> ApiError {
    ApiError::NotFound {
        what: "this path".to_owned(),
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panicked(_panic: Box<dyn Any + Send + 'static>) -> Response {
    // The panic message is already in the log (the panic hook); it is not sent to the client.
    ApiError::Panic.into_response()
}

/// `RequestBodyLimitLayer` answers a too-large `Content-Length` itself with a plain-text
/// `413`: make it problem+json like every other error.
async fn problem_for_plain_413(req: Request<Body>, next: Next, limit: usize) -> Response {
    let response = next.run(req).await;
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem {
        return ApiError::PayloadTooLarge { limit }.into_response();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn a_panic_is_a_500_problem_and_the_server_goes_on() {
        let router = with_layers(
            Router::new()
                .route(
                    "/boom",
                    get(|| async {
                        panic!("boom (expected by the test)");
                        #[allow(unreachable_code)]
                        "never"
                    }),
                )
                .route("/fine", get(|| async { "fine" })),
            1024,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let http = reqwest::Client::new();
        let r = http
            .get(format!("http://{addr}/boom"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()["content-type"], PROBLEM_JSON);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["status"], 500);
        assert!(
            !body["detail"].as_str().unwrap().contains("boom"),
            "the panic message stays in the log"
        );
        let r = http
            .get(format!("http://{addr}/fine"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "fine");
    }
}
