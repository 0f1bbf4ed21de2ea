//! `/`: throughput per second and failure rate as live charts (the history comes with the
//! page, each `tick` adds a point), queue depths and workers up (a fragment re-fetched when
//! they change).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup};
use serde::Serialize;

use crate::state::AppState;

use super::layout::{self, num, render, Frame, Nav};
use super::live::Live;
use super::{Dash, Viewer};

/// One point of the charts.
#[derive(Debug, Serialize)]
struct Point {
    t: u64,
    /// Attempts that ended in that second.
    done: u64,
    submitted: u64,
    failed: u64,
    failure_rate: f64,
}

/// The page.
pub(crate) async fn page(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
) -> Html<String> {
    let live = dash.live(&app).await;
    let points: Vec<Point> = live
        .history()
        .iter()
        .map(|s| Point {
            t: s.t,
            done: s.all.finished(),
            submitted: s.all.submitted,
            failed: s.all.failed + s.all.retried,
            failure_rate: s.all.failure_rate(),
        })
        .collect();
    let body = html! {
        section.charts {
            figure.chart {
                figcaption { "Throughput " span.muted { "(attempts ended per second; dashed: submitted)" }
                    span.big #now-throughput {} }
                canvas #chart-throughput data-series="done" data-series2="submitted" height="180" {}
            }
            figure.chart {
                figcaption { "Failure rate " span.muted { "(failed or retried / ended, per second)" }
                    span.big #now-failure {} }
                canvas #chart-failure data-series="failure_rate" data-percent="1" height="180" {}
            }
        }
        (layout::json_island("history", &points))
        div #frag hx-get="/ui/frag/overview" hx-trigger="sse:changed" hx-sync="this:queue last" {
            (body(&live))
        }
    };
    Html(
        render(
            Frame {
                title: "Overview",
                nav: Nav::Overview,
                who: Some(&who),
                stream: Some("/ui/stream?page=overview".to_owned()),
            },
            body,
        )
        .into_string(),
    )
}

/// The fragment: depths and workers.
pub(crate) async fn fragment(
    _who: Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
) -> Html<String> {
    Html(body(&dash.live(&app).await).into_string())
}

fn body(live: &Arc<Live>) -> Markup {
    let depths = live.depths();
    let workers = live.workers();
    let slots: usize = workers.iter().map(|w| w.concurrency).sum();
    let busy: usize = workers.iter().map(|w| w.running.len()).sum();
    let ready: usize = depths.values().map(|d| d.ready).sum();
    let dead: usize = depths.values().map(|d| d.dead).sum();
    html! {
        section.cards {
            a.card href="/workers" { span.label { "Workers up" } span.value #workers-up { (workers.len()) }
                span.sub { (busy) " of " (slots) " slots busy" } }
            a.card href="/tasks?state=ready" { span.label { "Ready" } span.value { (num(ready)) } }
            a.card href="/dead" { span.label { "Dead letters" } span.value { (num(dead)) } }
            a.card href="/queues" { span.label { "Queues" } span.value { (depths.len()) } }
        }
        @if let Some(e) = live.backend_error() {
            p.error { "The backend did not answer: " (e) }
        }
        @if !live.seeded() {
            p.muted { "Reading the backend's event log…" }
        }
        h2 { "Queue depths" }
        (super::queues::depth_table(&depths, None))
    }
}
