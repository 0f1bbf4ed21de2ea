//! `/workers`: the live workers (as the aggregator last sampled their heartbeats): host,
//! queues, concurrency, the tasks each is running, its last heartbeat.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup};
use taskq::backend::WorkerInfo;

use crate::state::AppState;

use super::layout::{num, render, when, Frame, Nav};
use super::tasks::short_id;
use super::{Dash, Viewer};

/// The page.
pub(crate) async fn page(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
) -> Html<String> {
    let workers = dash.live(&app).await.workers();
    let body = html! {
        div #frag hx-get="/ui/frag/workers" hx-trigger="sse:changed" hx-sync="this:queue last" {
            (table(&workers))
        }
    };
    Html(
        render(
            Frame {
                title: "Workers",
                nav: Nav::Workers,
                who: Some(&who),
                stream: Some("/ui/stream?page=workers".to_owned()),
            },
            body,
        )
        .into_string(),
    )
}

/// The fragment.
pub(crate) async fn fragment(
    _who: Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
) -> Html<String> {
    Html(table(&dash.live(&app).await.workers()).into_string())
}

fn table(workers: &[WorkerInfo]) -> Markup {
    html! {
        @if workers.is_empty() {
            p.muted.empty { "No worker is alive (none has sent a heartbeat lately)." }
        } @else {
            div.scroll { table.data #workers {
                thead { tr {
                    th { "Host" } th { "Worker" } th { "Queues" } th.n { "Busy / slots" }
                    th { "Running" } th.n { "Processed" } th.n { "Failed" } th { "Heartbeat" } th { "Up since" }
                } }
                tbody {
                    @for w in workers {
                        tr data-worker=(w.id) {
                            td { (w.host) }
                            td.id title=(w.id) { (w.pid) " · " (w.backend) " · v" (w.version) }
                            td { (w.queues.join(", ")) }
                            td.n { (w.running.len()) " / " (w.concurrency) }
                            td.running {
                                @for r in &w.running {
                                    a href=(format!("/tasks/{}", r.id)) title=(r.id) { (r.task) " " code { (short_id(&r.id.to_string())) } } " "
                                }
                            }
                            td.n { (num(w.processed as usize)) }
                            td.n { (num(w.failed as usize)) }
                            td { (when(w.heartbeat_at)) }
                            td { (when(w.started_at)) }
                        }
                    }
                }
            } }
        }
    }
}
