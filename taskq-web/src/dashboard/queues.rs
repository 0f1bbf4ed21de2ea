//! `/queues`: each queue's ready / scheduled / leased / dead counts (sampled by the
//! aggregator once a second), how long its head has waited, and pause / resume for operators.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup};

use crate::auth::{Principal, Role};
use crate::state::AppState;

use super::layout::{enc, may, num, render, span_ms, Frame, Nav};
use super::live::Depth;
use super::{Dash, Viewer};

/// The page.
pub(crate) async fn page(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
) -> Html<String> {
    let depths = dash.live(&app).await.depths();
    let body = html! {
        div #frag hx-get="/ui/frag/queues" hx-trigger="sse:changed" hx-sync="this:queue last" {
            (depth_table(&depths, Some(&who)))
        }
    };
    Html(
        render(
            Frame {
                title: "Queues",
                nav: Nav::Queues,
                who: Some(&who),
                stream: Some("/ui/stream?page=queues".to_owned()),
            },
            body,
        )
        .into_string(),
    )
}

/// The fragment.
pub(crate) async fn fragment(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
) -> Html<String> {
    Html(depth_table(&dash.live(&app).await.depths(), Some(&who)).into_string())
}

/// The table of depths; with `who`, the actions it may take.
pub(crate) fn depth_table(depths: &BTreeMap<String, Depth>, who: Option<&Principal>) -> Markup {
    let act = who.is_some_and(|w| may(w, Role::Operator));
    html! {
        @if depths.is_empty() {
            p.muted { "No queue yet: queues appear when a task is first sent to them." }
        } @else {
            div.scroll {
                table.data #queues {
                    thead { tr {
                        th { "Queue" } th.n { "Ready" } th.n { "Scheduled" } th.n { "Leased" }
                        th.n { "Dead" } th.n { "Head waited" } th { "State" }
                        @if act { th { } }
                    } }
                    tbody {
                        @for (q, d) in depths {
                            tr data-queue=(q) {
                                td { a href=(format!("/tasks?queue={}", enc(q))) { (q) } }
                                td.n { a href=(format!("/tasks?queue={}&state=ready", enc(q))) { (num(d.ready)) } }
                                td.n { a href=(format!("/tasks?queue={}&state=scheduled", enc(q))) { (num(d.scheduled)) } }
                                td.n { a href=(format!("/tasks?queue={}&state=leased", enc(q))) { (num(d.leased)) } }
                                td.n { a href=(format!("/dead?queue={}", enc(q))) { (num(d.dead)) } }
                                td.n { (d.oldest_ready_ms.map(span_ms).unwrap_or_else(|| "–".into())) }
                                td { @if d.paused { span.badge.s-paused { "paused" } } @else { span.badge.s-running { "running" } } }
                                @if act {
                                    td.actions {
                                        @if d.paused {
                                            button.act data-action="resume" data-queue=(q) { "Resume" }
                                        } @else {
                                            button.act data-action="pause" data-queue=(q) { "Pause" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
