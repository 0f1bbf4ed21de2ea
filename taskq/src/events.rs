//! Events: every change in a task's life, seen by this process and, through the backend's event
//! log, by every process connected to the same backend.
//!
//! ```text
//!  client ──enqueued──┐                      ┌──► taskq::events::subscribe()   (this process)
//!  worker ──started,──┼──► events::record ───┼──► Backend::append_event ──► the backend's log
//!    succeeded, ...   │                      │        (written with its next write: no extra
//!                     │                      │         round trip per task)
//!                     └──────────────────────┴──► metrics (when a recorder is installed)
//!
//!  any process: Backend::read_events(queues, cursor) ──► events after the cursor, resumable
//! ```
//!
//! The log is capped per queue (the oldest events go first), so it never grows without bound; a
//! reader keeps an [`EventCursor`] and resumes from it after a reconnect without losing events
//! that are still in the retained window.
//!
//! Events are on by default. `TASKQ_EVENTS=off` (or [`set_enabled`]) turns the backend's log
//! off for this process; the in-process stream of [`subscribe`] works either way.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::backend::Backend;
use crate::message::{DeadLetterReason, FailureKind, TaskId, Timestamp};

/// Environment variable: `off` (or `0`, `false`) turns the backend's event log off for this
/// process.
pub const EVENTS_ENV: &str = "TASKQ_EVENTS";

/// A change in a task's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// Sent to a backend.
    Enqueued,
    /// A worker started an attempt.
    Started,
    /// An attempt finished with a value.
    Succeeded,
    /// The task failed for good.
    Failed,
    /// An attempt failed and another is scheduled.
    Retried,
    /// The task was revoked, or stopped while running.
    Cancelled,
    /// The message went to the dead-letter queue.
    DeadLettered,
    /// The task reported progress.
    Progress,
    /// A schedule's tick did not run (see [`crate::schedule`]): the event's id is the tick's
    /// task id, its `detail` the reason (`catchup`, `overlap`, `buffer_full`, `paused`) and
    /// the schedule, its `at` the tick's nominal instant.
    TickSkipped,
    /// A task's circuit breaker opened (see [`crate::flow`]): enough failures within its
    /// window, or a half-open probe that failed. The event's id is the attempt that opened it,
    /// its `detail` when the cooldown ends. Sent once per opening, by the worker whose report
    /// opened it.
    BreakerOpened,
    /// A task's circuit breaker closed: a half-open probe succeeded. The event's id is that
    /// probe.
    BreakerClosed,
}

impl EventKind {
    /// Every kind, in the order of a task's life.
    pub const ALL: [EventKind; 11] = [
        EventKind::Enqueued,
        EventKind::Started,
        EventKind::Progress,
        EventKind::Retried,
        EventKind::Succeeded,
        EventKind::Failed,
        EventKind::Cancelled,
        EventKind::DeadLettered,
        EventKind::TickSkipped,
        EventKind::BreakerOpened,
        EventKind::BreakerClosed,
    ];

    /// The name used in JSON, logs and metrics (`dead_lettered`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Enqueued => "enqueued",
            EventKind::Started => "started",
            EventKind::Succeeded => "succeeded",
            EventKind::Failed => "failed",
            EventKind::Retried => "retried",
            EventKind::Cancelled => "cancelled",
            EventKind::DeadLettered => "dead_lettered",
            EventKind::Progress => "progress",
            EventKind::TickSkipped => "tick_skipped",
            EventKind::BreakerOpened => "breaker_opened",
            EventKind::BreakerClosed => "breaker_closed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event: what happened to which task, where, and when.
///
/// ```
/// use taskq::events::{Event, EventKind};
/// let e = Event::new(EventKind::Enqueued, taskq::TaskId::new(), "tasks.add", "default");
/// let json = serde_json::to_string(&e).unwrap();
/// let back: Event = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, e);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// To which task.
    pub id: TaskId,
    /// The task's name.
    pub task: Cow<'static, str>,
    /// Its queue.
    pub queue: Cow<'static, str>,
    /// The attempt number (deliveries so far; 0 before the first).
    #[serde(default)]
    pub attempt: u32,
    /// The worker that ran the attempt, for events of a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<Arc<str>>,
    /// When.
    pub at: Timestamp,
    /// How long the attempt ran, for the events that end one (succeeded, failed, retried,
    /// cancelled, dead-lettered after a run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_ms: Option<u64>,
    /// For `started`: how long the task waited from ready (enqueued, or due) to its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// For failures and retries: the kind of failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureKind>,
    /// For dead letters: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DeadLetterReason>,
    /// The error message, the reason in words, or the progress report (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Event {
    /// An event of `kind` for task `id` now, with no run details.
    pub fn new(
        kind: EventKind,
        id: TaskId,
        task: impl Into<Cow<'static, str>>,
        queue: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind,
            id,
            task: task.into(),
            queue: queue.into(),
            attempt: 0,
            worker: None,
            at: Timestamp::now(),
            runtime_ms: None,
            wait_ms: None,
            failure: None,
            reason: None,
            detail: None,
        }
    }

    /// With the attempt number.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// With the worker that ran it.
    pub fn worker(mut self, worker: Option<Arc<str>>) -> Self {
        self.worker = worker;
        self
    }

    /// With the run time.
    pub fn runtime_ms(mut self, ms: u64) -> Self {
        self.runtime_ms = Some(ms);
        self
    }

    /// With the wait before the start.
    pub fn wait_ms(mut self, ms: u64) -> Self {
        self.wait_ms = Some(ms);
        self
    }

    /// With a failure kind and its message.
    pub fn failure(mut self, kind: FailureKind, message: impl Into<String>) -> Self {
        self.failure = Some(kind);
        self.detail = Some(message.into());
        self
    }

    /// With a dead-letter reason.
    pub fn reason(mut self, reason: DeadLetterReason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// With a detail text.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// An event read back from a backend's log, with where it is in its queue's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Its position in its queue's log: give it to [`EventCursor::advance`] to read on after it.
    pub position: String,
    /// The event.
    pub event: Event,
}

/// Where a reader of the event log is: for each queue, the position of the last event it read.
/// A queue it has no position for is read from the oldest event retained.
///
/// Its text form (`Display` / `FromStr`) is a JSON object of queue → position, safe to keep in
/// a file or an SSE `Last-Event-ID`.
///
/// ```
/// let mut cursor = taskq::events::EventCursor::default();
/// cursor.set("emails", "17");
/// let text = cursor.to_string();
/// let back: taskq::events::EventCursor = text.parse().unwrap();
/// assert_eq!(back.position("emails"), Some("17"));
/// assert_eq!(back.position("other"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventCursor(BTreeMap<String, String>);

impl EventCursor {
    /// The position read up to in `queue`, if any.
    pub fn position(&self, queue: &str) -> Option<&str> {
        self.0.get(queue).map(String::as_str)
    }

    /// Sets the position of `queue`.
    pub fn set(&mut self, queue: impl Into<String>, position: impl Into<String>) {
        self.0.insert(queue.into(), position.into());
    }

    /// Moves past `event`.
    pub fn advance(&mut self, event: &StoredEvent) {
        self.0
            .insert(event.event.queue.to_string(), event.position.clone());
    }

    /// The queues it has positions for.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(&self.0) {
            Ok(s) => f.write_str(&s),
            Err(_) => f.write_str("{}"),
        }
    }
}

/// A cursor text that is not a JSON object of queue → position.
#[derive(Debug, thiserror::Error)]
#[error("an event cursor is a JSON object of queue names to positions: {0}")]
pub struct BadCursor(#[from] serde_json::Error);

impl FromStr for EventCursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(serde_json::from_str(s)?))
    }
}

/// What [`Backend::read_events`] is asked for.
#[derive(Clone, Copy, Debug)]
pub struct EventRead<'a> {
    /// The queues whose logs to read.
    pub queues: &'a [String],
    /// Read after these positions.
    pub after: &'a EventCursor,
    /// At most this many events.
    pub max: usize,
    /// How long to wait for a first event when there is none yet (an empty answer after).
    pub wait: std::time::Duration,
}

// --- switches ---------------------------------------------------------------------------------

/// 0: not read yet, 1: on, 2: off.
static ENABLED: AtomicU8 = AtomicU8::new(0);

/// Whether this process writes events to the backend's log (`TASKQ_EVENTS`, on unless `off`).
pub fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let on = !matches!(
                std::env::var(EVENTS_ENV)
                    .map(|v| v.trim().to_ascii_lowercase())
                    .as_deref(),
                Ok("off" | "0" | "false" | "no")
            );
            // A concurrent `set_enabled` wins over the environment.
            let _ = ENABLED.compare_exchange(
                0,
                if on { 1 } else { 2 },
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            ENABLED.load(Ordering::Relaxed) == 1
        }
    }
}

/// Turns the backend's event log on or off for this process, over `TASKQ_EVENTS`.
///
/// ```
/// taskq::events::set_enabled(false);
/// assert!(!taskq::events::enabled());
/// taskq::events::set_enabled(true);
/// ```
pub fn set_enabled(on: bool) {
    ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

// --- the in-process stream --------------------------------------------------------------------

const EVENT_BUFFER: usize = 4096;

/// Whether anybody ever subscribed: until then, the bus (4096 slots) is not even allocated.
static LIVE: AtomicBool = AtomicBool::new(false);

fn bus() -> &'static broadcast::Sender<Event> {
    static BUS: OnceLock<broadcast::Sender<Event>> = OnceLock::new();
    BUS.get_or_init(|| broadcast::channel(EVENT_BUFFER).0)
}

/// Subscribes to the events of this process: what its clients enqueue and what its workers
/// run. A subscriber that falls more than 4096 events behind skips the oldest
/// ([`broadcast::error::RecvError::Lagged`]). For the events of every process, read the
/// backend's log ([`Backend::read_events`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut events = taskq::events::subscribe();
/// // ... enqueue and run tasks, then:
/// # drop(events.try_recv());
/// # }
/// ```
pub fn subscribe() -> broadcast::Receiver<Event> {
    let rx = bus().subscribe();
    LIVE.store(true, Ordering::Relaxed);
    rx
}

/// A function told of every event this process records: how metrics see them without a
/// subscriber of their own. Set once.
pub(crate) type Observer = fn(&Event);
static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Installs the observer (metrics); later calls are ignored.
pub(crate) fn observe_with(observer: Observer) {
    let _ = OBSERVER.set(observer);
}

/// Whether anything listens: lets hot paths skip building events nobody reads.
pub(crate) fn wanted() -> bool {
    LIVE.load(Ordering::Relaxed) || OBSERVER.get().is_some() || enabled()
}

/// The task and queue names of a message as event fields, borrowed from the registry's
/// `'static` names when `registry` knows the task (no allocation per event).
pub(crate) fn names(
    registry: Option<&crate::registry::Registry>,
    task: &str,
    queue: &str,
) -> (Cow<'static, str>, Cow<'static, str>) {
    match registry.and_then(|r| r.get(task)) {
        Some(entry) => (
            Cow::Borrowed(entry.name),
            if entry.options.queue == queue {
                Cow::Borrowed(entry.options.queue)
            } else {
                Cow::Owned(queue.to_owned())
            },
        ),
        None => (Cow::Owned(task.to_owned()), Cow::Owned(queue.to_owned())),
    }
}

/// Records an event: to this process's subscribers, the metrics, and the backend's log.
pub(crate) fn record(backend: &dyn Backend, event: Event) {
    if let Some(observe) = OBSERVER.get() {
        observe(&event);
    }
    if LIVE.load(Ordering::Relaxed) {
        let bus = bus();
        if bus.receiver_count() > 0 {
            // An error only means every subscriber has gone away meanwhile.
            let _ = bus.send(event.clone());
        }
    }
    if enabled() {
        backend.append_event(event);
    }
}
