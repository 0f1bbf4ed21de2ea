//! # taskq-web: a REST API and a live dashboard for taskq
//!
//! One axum [`Router`](axum::Router) that serves:
//!
//! - **the API** under `/api`: submit any registered task (`POST /api/tasks`,
//!   `POST /api/tasks/{name}`), read or revoke it (`GET|DELETE /api/tasks/{id}`, with
//!   `?wait=30s` to wait for the result by the backend's notification), start a workflow,
//!   steer queues and dead letters, list workers, follow events over SSE (`GET /api/events`,
//!   resumable with `Last-Event-ID`);
//! - **the schema**: `GET /openapi.json`, an OpenAPI 3.1 document assembled at start-up from
//!   the tasks linked into the binary (one request and one output schema per task), and
//!   interactive docs at `/docs` that work offline;
//! - **operations**: `GET /metrics` (Prometheus, the worker's families), `GET /healthz`;
//! - **the dashboard** at `/`.
//!
//! ```text
//!  HTTP ──► layers: trace · catch panic → 500 · body limit → 413 (problem+json)
//!             │
//!             ├─ auth extractor: Bearer token or `taskq_token` cookie → Principal{role}
//!             │     viewer < operator < admin; 401 without a valid token, 403 below the role
//!             ▼
//!          handlers ──► taskq::Client / Backend (the backend is the only state: a restarted
//!                        server shows the same history)
//!             ▲
//!          catalog: registry entries + JSON Schemas (validated with `jsonschema`, every field
//!                   error reported at once as 422 problem+json)
//! ```
//!
//! Mount it in an application, or serve it alone:
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), taskq_web::WebError> {
//! // Tokens from TASKQ_WEB_TOKENS / TASKQ_WEB_TOKENS_FILE, the backend from TASKQ_URL.
//! let api = taskq_web::router().await?;
//! let app: axum::Router = axum::Router::new().nest_service("/taskq", api);
//! # let _ = app;
//! taskq_web::serve("127.0.0.1:8080".parse().unwrap()).await
//! # }
//! ```
//!
//! ## Tokens and roles
//!
//! Every route but `/healthz` needs a token ([`token`]): `viewer` reads, `operator` also
//! submits, revokes, requeues and pauses, `admin` also purges. Make one with
//! [`token::create`] and configure its hash line; anonymous read-only access exists only when
//! configured ([`WebConfig::anonymous`], `TASKQ_WEB_ANONYMOUS=viewer`).
//!
//! ## Errors
//!
//! Every error is `application/problem+json` (RFC 9457, [`Problem`]) with a `detail` saying
//! what to do; a body that does not fit its task's schema is a `422` listing every field error.

#![warn(missing_docs)]

mod app;
mod auth;
mod catalog;
mod config;
mod extract;
mod openapi;
mod problem;
mod state;
mod submit;

pub mod api;
mod dashboard;
mod routes;
pub mod token;

use std::net::SocketAddr;

pub use auth::{
    MaybePrincipal, Principal, RequireAdmin, RequireOperator, RequireViewer, Role, UnknownRole,
    ANONYMOUS_ENV, TOKEN_COOKIE,
};
pub use config::{
    WebConfig, WebError, ADDR_ENV, DEFAULT_ADDR, DEFAULT_BODY_LIMIT, DEFAULT_MAX_WAIT,
};
pub use problem::{ApiError, FieldError, Problem, PROBLEM_JSON};

/// The router of the tasks and workflows linked into the binary, on the process-wide client
/// ([`taskq::Client::global`], from `TASKQ_URL`), configured from the environment
/// ([`WebConfig::from_env`]).
///
/// # Errors
/// As [`WebConfig::from_env`] and [`WebConfig::router`].
pub async fn router() -> Result<axum::Router, WebError> {
    WebConfig::from_env()?.router().await
}

/// The router as `config` says.
///
/// # Errors
/// As [`WebConfig::router`].
pub async fn router_with(config: WebConfig) -> Result<axum::Router, WebError> {
    config.router().await
}

/// Serves [`router()`] on `addr` until the process gets Ctrl-C (or SIGTERM).
///
/// # Errors
/// As [`router()`]; [`WebError::Serve`] if `addr` cannot be listened on.
pub async fn serve(addr: SocketAddr) -> Result<(), WebError> {
    serve_router(router().await?, addr).await
}

/// Serves [`router()`] on `TASKQ_WEB_ADDR` (`127.0.0.1:8080` when unset).
///
/// # Errors
/// [`WebError::Addr`] if the variable is not an address; as [`serve`].
pub async fn serve_from_env() -> Result<(), WebError> {
    let value = std::env::var(ADDR_ENV).unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let addr = value.trim().parse().map_err(|_| WebError::Addr {
        value: value.clone(),
    })?;
    serve(addr).await
}

/// Serves `router` on `addr` until Ctrl-C (or SIGTERM), letting requests in flight finish.
///
/// # Errors
/// [`WebError::Serve`] if `addr` cannot be listened on.
pub async fn serve_router(router: axum::Router, addr: SocketAddr) -> Result<(), WebError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Serve { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    tracing::info!(addr = %local, "taskq-web serving");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| WebError::Serve {
            addr: local,
            source,
        })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
