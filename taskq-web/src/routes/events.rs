//! `GET /api/events`: the backend's event log as server-sent events, resumable.
//!
//! Each SSE message is one [`taskq::events::Event`] as JSON, its `event:` the kind
//! (`enqueued`, `started`, `succeeded`...), its `id:` the text of the
//! [`EventCursor`] just past it. A client that reconnects with that id in `Last-Event-ID`
//! (browsers' `EventSource` does it by itself) gets every event after it that the capped log
//! still holds. Without one, the stream starts at the end (only new events), except with
//! `?task=ID`: then it starts at the beginning of the retained log, so the task's history so far
//! comes first, then what happens to it next.
//!
//! Reading blocks in the backend (`read_events` waits for a write), never on a timer.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use taskq::events::{EventCursor, EventRead, StoredEvent};
use taskq::TaskId;

use crate::auth::RequireViewer;
use crate::extract::ApiQuery;
use crate::problem::ApiError;
use crate::routes::queues::queue_names;
use crate::state::AppState;

/// How long one backend read waits for a first event; then the queue list is refreshed
/// (a queue created meanwhile joins the stream) and the read starts again.
const READ_WAIT: Duration = Duration::from_secs(10);
/// The most events one read takes.
const READ_MAX: usize = 512;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/events", get(events))
}

/// The query of `GET /api/events`.
#[derive(Debug, Deserialize)]
struct EventsQuery {
    /// Only these queues (comma-separated); all by default.
    queue: Option<String>,
    /// Only the events of this task.
    task: Option<String>,
    /// Resume after this cursor (as `Last-Event-ID` does).
    cursor: Option<String>,
}

struct Reader {
    state: Arc<AppState>,
    fixed_queues: Option<Vec<String>>,
    queues: Vec<String>,
    cursor: EventCursor,
    task: Option<TaskId>,
    buffer: VecDeque<StoredEvent>,
    failed: bool,
}

impl Reader {
    async fn refresh_queues(&mut self) {
        if self.fixed_queues.is_none() {
            if let Ok(qs) = queue_names(&self.state).await {
                self.queues = qs;
            }
        }
    }

    /// The next event to send, waiting for it; `None` ends the stream (the backend failed:
    /// the client reconnects with its last id).
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if self.failed {
                return None;
            }
            while let Some(stored) = self.buffer.pop_front() {
                self.cursor.advance(&stored);
                if self.task.is_some_and(|t| t != stored.event.id) {
                    continue;
                }
                let data = serde_json::to_string(&stored.event).unwrap_or_default();
                return Some(
                    SseEvent::default()
                        .event(stored.event.kind.as_str())
                        .id(self.cursor.to_string())
                        .data(data),
                );
            }
            let read = EventRead {
                queues: &self.queues,
                after: &self.cursor,
                max: READ_MAX,
                wait: READ_WAIT,
            };
            match self.state.client.backend().read_events(read).await {
                Ok(events) if events.is_empty() => self.refresh_queues().await,
                Ok(events) => self.buffer.extend(events),
                Err(e) => {
                    tracing::warn!(error = %e, "event stream: reading the backend's log failed");
                    self.failed = true;
                    return Some(SseEvent::default().event("error").data(e.to_string()));
                }
            }
        }
    }
}

/// `GET /api/events?queue=&task=` (and `Last-Event-ID`).
async fn events(
    State(state): State<Arc<AppState>>,
    RequireViewer(_who): RequireViewer,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let fixed_queues = q.queue.as_deref().map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let task = match q.task.as_deref().filter(|s| !s.is_empty()) {
        Some(t) => Some(t.parse::<TaskId>().map_err(|_| ApiError::BadRequest {
            detail: format!("`task={t}` is not a task id (a UUID)"),
        })?),
        None => None,
    };
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(q.cursor)
        .filter(|s| !s.trim().is_empty());
    let queues = match &fixed_queues {
        Some(qs) => qs.clone(),
        None => queue_names(&state).await?,
    };
    let cursor = match resume {
        Some(text) => text
            .parse::<EventCursor>()
            .map_err(|e| ApiError::BadRequest {
                detail: format!("the Last-Event-ID (or cursor) is not one this server sent: {e}"),
            })?,
        // One task's events: from the start of the retained log, so its history comes first.
        None if task.is_some() => EventCursor::default(),
        None => match state.client.backend().events_now(&queues).await {
            Ok(c) => c,
            Err(taskq::BackendError::Unsupported { what, .. }) => {
                return Err(ApiError::Unsupported(what.to_owned()))
            }
            Err(e) => return Err(e.into()),
        },
    };
    let reader = Reader {
        state,
        fixed_queues,
        queues,
        cursor,
        task,
        buffer: VecDeque::new(),
        failed: false,
    };
    let stream = stream::unfold(reader, |mut r| async move {
        let event = r.next().await?;
        Some((Ok(event), r))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
