//! The dashboard: server-rendered pages (maud) made live by one server-sent-event stream per
//! page, with htmx 2 swapping in fresh fragments. Served by the API's router at `/`; every
//! asset is embedded in the binary.
//!
//! ```text
//!  GET /            overview: throughput and failure-rate charts, depths, workers up
//!  GET /queues      depths per queue, pause / resume
//!  GET /tasks       filter by queue, state, task, arguments; bulk actions; enqueue form
//!  GET /tasks/{id}  one task: arguments, result or error, attempts on a timeline, family
//!  GET /dead        dead letters by reason: requeue / purge one, a selection, a reason
//!  GET /workers     live workers
//!  GET /login       takes a token, sets the `taskq_token` cookie (HttpOnly, SameSite=Strict)
//!  GET /ui/stream   the page's SSE stream: `tick` once a second, `changed` when what it
//!                   shows changed (at most 4 a second): the page then re-fetches
//!  GET /ui/frag/..  the fragments pages re-fetch
//!  POST /ui/actions/..  bulk actions (JSON bodies only; roles checked like the API's)
//! ```
//!
//! Live without polling: a single aggregator per server ([`live`]) follows the backend's event
//! log and samples depths and workers once a second; browsers never read the backend on a
//! timer and never receive one message per task event.
//!
//! Actions: a viewer's pages show no action buttons, and the server refuses the actions
//! (`403`) whatever the page shows. State-changing requests from the pages carry the token
//! in the `SameSite=Strict` cookie and must be `Content-Type: application/json` (which a
//! cross-site form cannot send without a CORS preflight this server never grants).

mod actions;
mod assets;
mod dead;
mod filter;
mod layout;
pub(crate) mod live;
mod login;
mod overview;
mod queues;
mod stream;
mod task;
mod tasks;
mod workers;

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::auth::Principal;
use crate::state::AppState;

use live::Live;

/// How long a page waits for a fresh aggregator to replay the retained events.
const SEED_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The dashboard's own state beside the API's: the live aggregator, made on first use (it
/// needs the backend, which the router only gets with its state).
#[derive(Debug, Default)]
pub(crate) struct Dash {
    live: OnceLock<Arc<Live>>,
}

impl Dash {
    /// The aggregator over `app`'s backend, started; the first call waits (a few seconds at
    /// most) for it to replay the backend's retained events.
    pub(crate) async fn live(&self, app: &AppState) -> Arc<Live> {
        let live = Arc::clone(
            self.live
                .get_or_init(|| Live::new(Arc::clone(app.client.backend()))),
        );
        if !live.seeded() {
            live.wait_seeded(SEED_WAIT).await;
        }
        live
    }
}

/// The dashboard's routes: pages, fragments, the stream, actions and assets.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(overview::page))
        .route("/queues", get(queues::page))
        .route("/tasks", get(tasks::page))
        .route("/tasks/{id}", get(task::page))
        .route("/dead", get(dead::page))
        .route("/workers", get(workers::page))
        .route("/login", get(login::form_page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/ui/stream", get(stream::stream))
        .route("/ui/frag/overview", get(overview::fragment))
        .route("/ui/frag/queues", get(queues::fragment))
        .route("/ui/frag/tasks", get(tasks::fragment))
        .route("/ui/frag/task/{id}", get(task::fragment))
        .route("/ui/frag/dead", get(dead::fragment))
        .route("/ui/frag/workers", get(workers::fragment))
        .route("/ui/frag/enqueue", get(tasks::enqueue_form))
        .route("/ui/actions/tasks", post(actions::tasks))
        .route("/ui/actions/dead", post(actions::dead))
        .merge(assets::routes())
        .layer(Extension(Arc::new(Dash::default())))
}

/// The viewer of a page: anyone who may read; others are sent to the login page.
#[derive(Debug)]
pub(crate) struct Viewer(pub Principal);

/// The rejection of [`Viewer`]: a redirect to `/login?next=<this page>`.
#[derive(Debug)]
pub(crate) struct ToLogin(String);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to(&format!("/login?next={}", layout::enc(&self.0))).into_response()
    }
}

impl FromRequestParts<Arc<AppState>> for Viewer {
    type Rejection = ToLogin;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let here = match parts.extensions.get::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri.to_string(),
            None => parts.uri.to_string(),
        };
        state
            .auth
            .require(parts, crate::auth::Role::Viewer)
            .map(Viewer)
            .map_err(|_| ToLogin(here))
    }
}
