//! `GET /ui/stream?page=...`: a page's one SSE stream. It carries `tick` once a second (the
//! counts of the second that ended, depths, workers up: for the charts and the header) and
//! `changed` when something the page shows changed (at most 4 a second, from the aggregator),
//! on which the page re-fetches its fragment. A page that falls behind gets one `changed`
//! (a resync) instead of a backlog.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::{HeaderName, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Extension;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use taskq::TaskId;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::RequireViewer;
use crate::state::AppState;

use super::live::{Change, Tick};
use super::Dash;

/// Which page listens, and what it shows.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Topic {
    /// `overview`, `queues`, `tasks`, `task`, `dead`, `workers`.
    page: String,
    /// The queue the page is filtered to.
    queue: String,
    /// The task a task page shows.
    id: Option<TaskId>,
}

impl Topic {
    fn queue(&self) -> Option<&str> {
        Some(self.queue.as_str()).filter(|q| !q.is_empty())
    }

    /// Whether `change` concerns the page.
    fn wants(&self, change: &Change) -> bool {
        match self.page.as_str() {
            "task" => self
                .id
                .is_some_and(|id| change.touches_task(id, self.queue())),
            "workers" => change.workers,
            "overview" => change.workers || change.touches_queue(None),
            "queues" => change.touches_queue(None),
            // tasks, dead, and anything else: the queue shown.
            _ => change.touches_queue(self.queue()),
        }
    }
}

/// The `tick` event's data: what the header and the charts use.
#[derive(Debug, Serialize)]
struct TickData<'a> {
    t: u64,
    all: &'a super::live::Counts,
    failure_rate: f64,
    throughput: f64,
    workers: usize,
    ready: usize,
    dead: usize,
    error: Option<&'a str>,
}

fn tick_event(tick: &Tick) -> SseEvent {
    let data = TickData {
        t: tick.second.t,
        all: &tick.second.all,
        failure_rate: tick.second.all.failure_rate(),
        throughput: tick.throughput,
        workers: tick.workers,
        ready: tick.depths.values().map(|d| d.ready).sum(),
        dead: tick.depths.values().map(|d| d.dead).sum(),
        error: tick.backend_error.as_deref(),
    };
    SseEvent::default()
        .event("tick")
        .json_data(&data)
        .unwrap_or_else(|_| SseEvent::default().event("tick").data("{}"))
}

fn changed_event(why: &str) -> SseEvent {
    SseEvent::default().event("changed").data(why)
}

/// The stream handler.
pub(crate) async fn stream(
    _who: RequireViewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    Query(topic): Query<Topic>,
) -> impl IntoResponse {
    let live = dash.live(&app).await;
    let mut ticks = live.ticks();
    let mut changes = live.changes();
    let events = async_stream(move |tx| async move {
        loop {
            let ev = tokio::select! {
                t = ticks.recv() => match t {
                    Ok(t) => tick_event(&t),
                    Err(RecvError::Lagged(_)) => changed_event("resync"),
                    Err(RecvError::Closed) => return,
                },
                c = changes.recv() => match c {
                    Ok(c) if topic.wants(&c) => changed_event("changed"),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => changed_event("resync"),
                    Err(RecvError::Closed) => return,
                },
            };
            if tx.send(Ok(ev)).await.is_err() {
                return;
            }
        }
    });
    (
        [(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
}

/// A stream fed by a task writing into a small channel: the task ends when the client goes
/// (its sends fail), so nothing outlives the connection.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(f(tx));
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_want_only_what_they_show() {
        let mut c = Change::default();
        c.queues.insert("a".into());
        let id = TaskId::new();
        c.ids.insert(id);
        let t = |page: &str, queue: &str, id: Option<TaskId>| Topic {
            page: page.into(),
            queue: queue.into(),
            id,
        };
        assert!(t("tasks", "", None).wants(&c));
        assert!(t("tasks", "a", None).wants(&c));
        assert!(!t("tasks", "b", None).wants(&c));
        assert!(t("task", "a", Some(id)).wants(&c));
        assert!(!t("task", "a", Some(TaskId::new())).wants(&c));
        assert!(!t("workers", "", None).wants(&c));
        c.workers = true;
        assert!(t("workers", "", None).wants(&c));
    }
}
