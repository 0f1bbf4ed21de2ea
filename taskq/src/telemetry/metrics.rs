//! Metrics through the [`metrics`] facade: whatever recorder the process installed (taskq's
//! Prometheus one with `install_prometheus`, or the host
//! application's own) gets taskq's families.
//!
//! Events are the one source of the task counters and histograms: the observer below sees every
//! event this process records (`taskq::events`), with or without the backend's event log
//! (`TASKQ_EVENTS=off`). Its handles are cached per (task, queue), so an event costs a lookup in
//! a thread-local cache and an atomic add. What no event tells, a worker samples: its slots every
//! second, and the backend's queue statistics every five seconds, never per task.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram, Unit};
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::events::{self, Event, EventKind};
use crate::message::{DeadLetterReason, FailureKind, Timestamp};

/// The names of taskq's metric families.
///
/// Labels are task and queue names, and closed sets of words (`status`, `kind`, `reason`,
/// `state`, `op`): never task ids, arguments, worker ids or hosts.
pub mod names {
    /// Counter `{task, queue}`: tasks sent to a backend by this process.
    pub const TASKS_SUBMITTED: &str = "taskq_tasks_submitted_total";
    /// Counter `{task, queue}`: attempts started by this process's workers.
    pub const TASKS_STARTED: &str = "taskq_tasks_started_total";
    /// Counter `{task, queue, status}`: final outcomes (`succeeded`, `failed`, `cancelled`,
    /// `expired`); a retried attempt is not one.
    pub const TASKS_COMPLETED: &str = "taskq_tasks_completed_total";
    /// Counter `{task, queue, kind}`: failed attempts, retried or not (`error`, `panic`,
    /// `timeout`, `lost`: the worker's lease extension found the lease gone).
    pub const TASK_ATTEMPTS_FAILED: &str = "taskq_task_attempts_failed_total";
    /// Histogram `{task, queue}`: how long an attempt ran, in seconds
    /// ([`DURATION_BUCKETS`](super::DURATION_BUCKETS)).
    pub const TASK_DURATION: &str = "taskq_task_duration_seconds";
    /// Histogram `{task, queue}`: from ready (enqueued, or due) to the first attempt's start, in
    /// seconds ([`WAIT_BUCKETS`](super::WAIT_BUCKETS)); a deliberate delay is not waiting.
    pub const TASK_WAIT: &str = "taskq_task_wait_seconds";
    /// Counter `{task, queue}`: retries scheduled.
    pub const TASKS_RETRIED: &str = "taskq_tasks_retried_total";
    /// Counter `{task, queue, reason}`: messages sent to the dead-letter queue (`unknown_task`,
    /// `undecodable_arguments`, `malformed_message`, `attempts_exhausted`).
    pub const DEAD_LETTERS: &str = "taskq_dead_letters_total";
    /// Gauge `{task}`: attempts running in this process, published by the workers every
    /// second.
    pub const TASKS_RUNNING: &str = "taskq_tasks_running";
    /// Gauge `{queue, state}`: tasks in a queue (`ready`, `scheduled`, `leased`, `dead`),
    /// sampled from the backend every five seconds by each worker serving it.
    pub const QUEUE_DEPTH: &str = "taskq_queue_depth";
    /// Gauge `{queue}`: how long the oldest ready task has waited, in seconds (0 when none is
    /// ready): the signal to scale workers on. Sampled with the depth.
    pub const QUEUE_OLDEST_READY_AGE: &str = "taskq_queue_oldest_ready_age_seconds";
    /// Gauge `{queue}`: 1 while the queue is paused. Sampled with the depth.
    pub const QUEUE_PAUSED: &str = "taskq_queue_paused";
    /// Gauge `{state}`: the run slots of this process's workers, `busy` or `idle`.
    pub const WORKER_SLOTS: &str = "taskq_worker_slots";
    /// Gauge `{version}`, always 1.
    pub const BUILD_INFO: &str = "taskq_build_info";
    /// Counter `{op}`: calls to the backend that failed (`fetch`, `complete`, `extend`,
    /// `queue_stats`, or what a backend crate reports).
    pub const BACKEND_ERRORS: &str = "taskq_backend_errors_total";
    /// Counter: times the backend was reached again after failing.
    pub const BACKEND_RECONNECTS: &str = "taskq_backend_reconnects_total";
    /// Gauge: workers running in this process (1 for a worker binary).
    pub const WORKER_UP: &str = "taskq_worker_up";
    /// Counter `{schedule, reason}`: schedule ticks that did not run (`catchup`, `overlap`,
    /// `buffer_full`, `paused`), counted by the scheduler whose claim recorded them.
    pub const SCHEDULE_TICKS_SKIPPED: &str = "taskq_schedule_ticks_skipped_total";
    /// Counter `{task, queue, to}`: circuit breaker transitions (`open` or `closed`), counted
    /// by the worker whose report caused each one.
    pub const BREAKER_TRANSITIONS: &str = "taskq_breaker_transitions_total";
}

/// The buckets of `taskq_task_duration_seconds`, in seconds: 5 ms to an hour.
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// The buckets of `taskq_task_wait_seconds`, in seconds: 10 ms to half an hour, since a backlog
/// makes waits far longer than runs.
pub const WAIT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0,
];

/// The most (task, queue) pairs with series of their own; the rest share `other`.
const MAX_SERIES: usize = 1_000;

/// How often a worker samples its slots; the queues are sampled every `QUEUE_EVERY` samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
const QUEUE_EVERY: u64 = 5;

static INSTALLED: AtomicBool = AtomicBool::new(false);
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Feeds taskq's metrics to the `metrics` recorder installed in this process: call it after
/// installing your own recorder (`install_prometheus`, feature `prometheus`, calls it
/// itself). Until then taskq records no metric at all, so a process without metrics pays
/// nothing for them. Calling it again does nothing.
///
/// ```
/// // With the application's own recorder installed first (here: none, so a no-op recorder).
/// taskq::telemetry::enable_metrics();
/// assert!(taskq::telemetry::metrics_enabled());
/// ```
pub fn enable_metrics() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    describe();
    metrics::gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    metrics::counter!(names::BACKEND_RECONNECTS).absolute(0);
    events::observe_with(observe);
}

/// Whether taskq records metrics now: [`enable_metrics`] was called and they are not paused.
pub fn metrics_enabled() -> bool {
    INSTALLED.load(Ordering::Relaxed) && ENABLED.load(Ordering::Relaxed)
}

/// Pauses (`false`) or resumes (`true`) taskq's metric updates, for example to measure what
/// they cost. Metrics that were paused miss what happened meanwhile.
///
/// ```
/// taskq::telemetry::enable_metrics();
/// taskq::telemetry::set_metrics_enabled(false);
/// assert!(!taskq::telemetry::metrics_enabled());
/// taskq::telemetry::set_metrics_enabled(true);
/// ```
pub fn set_metrics_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Counts a failed call to the backend (`taskq_backend_errors_total{op}`): for backend crates
/// and other callers of a backend. `op` is a fixed word such as `fetch`.
///
/// ```
/// taskq::telemetry::record_backend_error("publish");
/// ```
pub fn record_backend_error(op: &'static str) {
    if metrics_enabled() {
        metrics::counter!(names::BACKEND_ERRORS, "op" => op).increment(1);
    }
}

/// Counts schedule ticks that did not run (`taskq_schedule_ticks_skipped_total{schedule,
/// reason}`); `reason` is a [`SkipReason`](crate::schedule::SkipReason) word.
///
/// ```
/// taskq::telemetry::record_ticks_skipped("nightly", "overlap", 1);
/// ```
pub fn record_ticks_skipped(schedule: &str, reason: &'static str, count: u64) {
    if metrics_enabled() && count > 0 {
        metrics::counter!(names::SCHEDULE_TICKS_SKIPPED, "schedule" => schedule.to_owned(), "reason" => reason)
            .increment(count);
    }
}

/// Counts a backend reached again after a failure (`taskq_backend_reconnects_total`).
///
/// ```
/// taskq::telemetry::record_backend_reconnect();
/// ```
pub fn record_backend_reconnect() {
    if metrics_enabled() {
        metrics::counter!(names::BACKEND_RECONNECTS).increment(1);
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(names::TASKS_SUBMITTED, "Tasks sent to a backend.");
    describe_counter!(names::TASKS_STARTED, "Attempts started.");
    describe_counter!(
        names::TASKS_COMPLETED,
        "Tasks that reached a final outcome, by status."
    );
    describe_counter!(
        names::TASK_ATTEMPTS_FAILED,
        "Failed attempts, retried or not, by kind."
    );
    describe_histogram!(
        names::TASK_DURATION,
        Unit::Seconds,
        "How long an attempt ran."
    );
    describe_histogram!(
        names::TASK_WAIT,
        Unit::Seconds,
        "From ready (enqueued or due) to the first attempt's start."
    );
    describe_counter!(names::TASKS_RETRIED, "Retries scheduled.");
    describe_counter!(
        names::DEAD_LETTERS,
        "Messages sent to the dead-letter queue, by reason."
    );
    describe_gauge!(names::TASKS_RUNNING, "Attempts running in this process.");
    describe_gauge!(
        names::QUEUE_DEPTH,
        "Tasks in a queue by state, sampled from the backend."
    );
    describe_gauge!(
        names::QUEUE_OLDEST_READY_AGE,
        Unit::Seconds,
        "How long the oldest ready task of a queue has waited, sampled from the backend."
    );
    describe_gauge!(names::QUEUE_PAUSED, "1 while a queue is paused.");
    describe_gauge!(
        names::WORKER_SLOTS,
        "Run slots of this process's workers, busy or idle."
    );
    describe_gauge!(names::BUILD_INFO, "taskq's version; always 1.");
    describe_counter!(names::BACKEND_ERRORS, "Failed calls to the backend.");
    describe_counter!(
        names::BACKEND_RECONNECTS,
        "Times the backend was reached again after failing."
    );
    describe_gauge!(names::WORKER_UP, "Workers running in this process.");
    describe_counter!(
        names::BREAKER_TRANSITIONS,
        "Circuit breaker transitions, by the state entered."
    );
}

// --- per (task, queue) handles ------------------------------------------------------------------

const STATUS: [&str; 4] = ["succeeded", "failed", "cancelled", "expired"];
const SUCCEEDED: usize = 0;
const FAILED: usize = 1;
const CANCELLED: usize = 2;
const EXPIRED: usize = 3;

const KINDS: [&str; 4] = ["error", "panic", "timeout", "lost"];
const LOST: usize = 3;

const REASONS: [&str; 4] = [
    "unknown_task",
    "undecodable_arguments",
    "malformed_message",
    "attempts_exhausted",
];

/// The handles of one (task, queue) pair, each registered with the recorder on first use.
struct Series {
    task: Box<str>,
    queue: Box<str>,
    submitted: OnceLock<Counter>,
    started: OnceLock<Counter>,
    retried: OnceLock<Counter>,
    completed: [OnceLock<Counter>; 4],
    attempts_failed: [OnceLock<Counter>; 4],
    dead: [OnceLock<Counter>; 4],
    duration: OnceLock<Histogram>,
    wait: OnceLock<Histogram>,
    /// Attempts running now: a plain atomic on the hot path; the worker's sampler publishes
    /// the sums per task every second.
    running: AtomicI64,
    /// Whether an attempt of it ever ran here (its gauge is published from then on).
    ran: AtomicBool,
}

impl Series {
    fn new(task: &str, queue: &str) -> Self {
        Self {
            task: task.into(),
            queue: queue.into(),
            submitted: OnceLock::new(),
            started: OnceLock::new(),
            retried: OnceLock::new(),
            completed: Default::default(),
            attempts_failed: Default::default(),
            dead: Default::default(),
            duration: OnceLock::new(),
            wait: OnceLock::new(),
            running: AtomicI64::new(0),
            ran: AtomicBool::new(false),
        }
    }

    fn counter<'a>(&self, slot: &'a OnceLock<Counter>, name: &'static str) -> &'a Counter {
        slot.get_or_init(|| {
            metrics::counter!(name, "task" => self.task.to_string(), "queue" => self.queue.to_string())
        })
    }

    fn counter_with<'a>(
        &self,
        slot: &'a OnceLock<Counter>,
        name: &'static str,
        key: &'static str,
        value: &'static str,
    ) -> &'a Counter {
        slot.get_or_init(|| {
            metrics::counter!(name, "task" => self.task.to_string(), "queue" => self.queue.to_string(), key => value)
        })
    }

    fn histogram<'a>(&self, slot: &'a OnceLock<Histogram>, name: &'static str) -> &'a Histogram {
        slot.get_or_init(|| {
            metrics::histogram!(name, "task" => self.task.to_string(), "queue" => self.queue.to_string())
        })
    }

    fn completed(&self, status: usize) {
        self.counter_with(
            &self.completed[status],
            names::TASKS_COMPLETED,
            "status",
            STATUS[status],
        )
        .increment(1);
    }

    fn attempt_failed(&self, kind: usize) {
        self.counter_with(
            &self.attempts_failed[kind],
            names::TASK_ATTEMPTS_FAILED,
            "kind",
            KINDS[kind],
        )
        .increment(1);
    }

    fn dead_letter(&self, reason: usize) {
        self.counter_with(
            &self.dead[reason],
            names::DEAD_LETTERS,
            "reason",
            REASONS[reason],
        )
        .increment(1);
    }

    fn ran(&self, event: &Event) {
        if let Some(ms) = event.runtime_ms {
            self.histogram(&self.duration, names::TASK_DURATION)
                .record(ms as f64 / 1000.0);
        }
    }
}

/// Series live as long as the process (at most `MAX_SERIES` + 1 of them), so they are leaked
/// and shared as plain references: no reference count on the hot path.
type SeriesMap = HashMap<Box<str>, HashMap<Box<str>, &'static Series>>;

struct Registry {
    map: RwLock<SeriesMap>,
    count: AtomicU64,
    other: &'static Series,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        map: RwLock::new(HashMap::new()),
        count: AtomicU64::new(0),
        other: Box::leak(Box::new(Series::new("other", "other"))),
    })
}

thread_local! {
    /// The series this thread used last: a worker thread of a busy worker mostly runs one or
    /// a few tasks, so most events skip the shared map (and its lock's cache line).
    static LAST: Cell<Option<&'static Series>> = const { Cell::new(None) };
}

fn series(task: &str, queue: &str) -> &'static Series {
    LAST.with(|last| match last.get() {
        Some(s) if &*s.task == task && &*s.queue == queue => s,
        _ => {
            let s = lookup(task, queue);
            last.set(Some(s));
            s
        }
    })
}

fn with_series<R>(task: &str, queue: &str, f: impl FnOnce(&Series) -> R) -> R {
    f(series(task, queue))
}

fn lookup(task: &str, queue: &str) -> &'static Series {
    let reg = registry();
    {
        let map = reg.map.read().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get(task).and_then(|q| q.get(queue)) {
            return s;
        }
    }
    let mut map = reg.map.write().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = map.get(task).and_then(|q| q.get(queue)) {
        return s;
    }
    if reg.count.load(Ordering::Relaxed) >= MAX_SERIES as u64 {
        return reg.other;
    }
    reg.count.fetch_add(1, Ordering::Relaxed);
    let series: &'static Series = Box::leak(Box::new(Series::new(task, queue)));
    map.entry(task.into())
        .or_default()
        .insert(queue.into(), series);
    series
}

/// Publishes `taskq_tasks_running{task}`: the running attempts of each task that ever ran
/// here, over its queues.
fn publish_running() {
    let sums: Vec<(String, i64)> = {
        let map = registry().map.read().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(_, queues)| queues.values().any(|s| s.ran.load(Ordering::Relaxed)))
            .map(|(task, queues)| {
                let n = queues
                    .values()
                    .map(|s| s.running.load(Ordering::Relaxed))
                    .sum();
                (task.to_string(), n)
            })
            .collect()
    };
    for (task, n) in sums {
        metrics::gauge!(names::TASKS_RUNNING, "task" => task).set(n.max(0) as f64);
    }
}

/// The events observer: every event this process records.
fn observe(event: &Event) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    with_series(&event.task, &event.queue, |s| match event.kind {
        EventKind::Enqueued => s.counter(&s.submitted, names::TASKS_SUBMITTED).increment(1),
        EventKind::Started => {
            s.counter(&s.started, names::TASKS_STARTED).increment(1);
            if let Some(ms) = event.wait_ms {
                s.histogram(&s.wait, names::TASK_WAIT)
                    .record(ms as f64 / 1000.0);
            }
        }
        EventKind::Succeeded => {
            s.completed(SUCCEEDED);
            s.ran(event);
        }
        EventKind::Retried => {
            s.counter(&s.retried, names::TASKS_RETRIED).increment(1);
            s.attempt_failed(kind_of(event.failure));
            s.ran(event);
        }
        EventKind::Failed => {
            s.completed(FAILED);
            s.attempt_failed(kind_of(event.failure));
            s.ran(event);
        }
        EventKind::Cancelled => {
            let status = if event.failure == Some(FailureKind::Expired) {
                EXPIRED
            } else {
                CANCELLED
            };
            s.completed(status);
            s.ran(event);
        }
        EventKind::DeadLettered => {
            if let Some(reason) = event.reason {
                s.dead_letter(reason_of(reason));
            }
            // A message rejected without running (unknown task, undecodable arguments, too
            // many deliveries) ends here; one that failed its last attempt was counted by its
            // `failed` event already.
            if event.failure == Some(FailureKind::Rejected) {
                s.completed(FAILED);
            }
        }
        EventKind::BreakerOpened | EventKind::BreakerClosed => {
            let to = if event.kind == EventKind::BreakerOpened {
                "open"
            } else {
                "closed"
            };
            metrics::counter!(names::BREAKER_TRANSITIONS, "task" => event.task.to_string(), "queue" => event.queue.to_string(), "to" => to)
                .increment(1);
        }
        EventKind::Progress | EventKind::TickSkipped => {}
    });
}

fn kind_of(failure: Option<FailureKind>) -> usize {
    match failure {
        Some(FailureKind::Panic) => 1,
        Some(FailureKind::Timeout) => 2,
        _ => 0,
    }
}

fn reason_of(reason: DeadLetterReason) -> usize {
    match reason {
        DeadLetterReason::UnknownTask => 0,
        DeadLetterReason::UndecodableArguments => 1,
        DeadLetterReason::MalformedMessage => 2,
        DeadLetterReason::AttemptsExhausted => 3,
    }
}

// --- what the worker reports itself -------------------------------------------------------------

/// Counts a running attempt in `taskq_tasks_running{task}` while it lives.
pub(crate) struct RunningGuard(Option<&'static Series>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Some(s) = self.0 {
            s.running.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A guard counting one running attempt of `task` (from `queue`).
pub(crate) fn running(task: &str, queue: &str) -> RunningGuard {
    if !metrics_enabled() {
        return RunningGuard(None);
    }
    let s = series(task, queue);
    s.running.fetch_add(1, Ordering::Relaxed);
    if !s.ran.load(Ordering::Relaxed) {
        s.ran.store(true, Ordering::Relaxed);
    }
    RunningGuard(Some(s))
}

/// A failed attempt whose lease the worker found lost.
pub(crate) fn lease_lost(task: &str, queue: &str) {
    if metrics_enabled() {
        with_series(task, queue, |s| s.attempt_failed(LOST));
    }
}

/// One more (or one fewer) worker in this process.
pub(crate) fn worker_up(up: bool) {
    if metrics_enabled() {
        let g = metrics::gauge!(names::WORKER_UP);
        if up {
            g.increment(1.0);
        } else {
            g.decrement(1.0);
        }
    }
}

/// Each live worker's (busy, idle) slots: the gauges show their sums.
fn slot_table() -> &'static Mutex<BTreeMap<u64, (usize, usize)>> {
    static SLOTS: OnceLock<Mutex<BTreeMap<u64, (usize, usize)>>> = OnceLock::new();
    SLOTS.get_or_init(|| Mutex::new(BTreeMap::new()))
}

fn set_slots(worker: u64, now: Option<(usize, usize)>) {
    let mut table = slot_table().lock().unwrap_or_else(|e| e.into_inner());
    match now {
        Some(v) => {
            table.insert(worker, v);
        }
        None => {
            table.remove(&worker);
        }
    }
    let (busy, idle) = table
        .values()
        .fold((0, 0), |(b, i), (wb, wi)| (b + wb, i + wi));
    metrics::gauge!(names::WORKER_SLOTS, "state" => "busy").set(busy as f64);
    metrics::gauge!(names::WORKER_SLOTS, "state" => "idle").set(idle as f64);
}

/// A worker's sampler: its slots every second, the queues it serves every five, until `stop`.
/// `slots` tells (busy, idle).
pub(crate) async fn sample(
    backend: Arc<dyn Backend>,
    queues: Vec<String>,
    slots: impl Fn() -> (usize, usize),
    stop: CancellationToken,
) {
    static WORKERS: AtomicU64 = AtomicU64::new(0);
    let me = WORKERS.fetch_add(1, Ordering::Relaxed);
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        if !metrics_enabled() {
            continue;
        }
        set_slots(me, Some(slots()));
        publish_running();
        if n % QUEUE_EVERY == 0 {
            for queue in &queues {
                let stats = tokio::select! {
                    s = backend.queue_stats(queue) => s,
                    _ = stop.cancelled() => break,
                };
                match stats {
                    Ok(s) => {
                        let q = queue.clone();
                        let depth = |state: &'static str, n: usize| {
                            metrics::gauge!(names::QUEUE_DEPTH, "queue" => q.clone(), "state" => state)
                                .set(n as f64);
                        };
                        depth("ready", s.ready);
                        depth("scheduled", s.delayed);
                        depth("leased", s.running);
                        depth("dead", s.dead);
                        let age = s.oldest_ready.map_or(0.0, |t| {
                            Timestamp::now().0.saturating_sub(t.0) as f64 / 1000.0
                        });
                        metrics::gauge!(names::QUEUE_OLDEST_READY_AGE, "queue" => q.clone())
                            .set(age);
                        metrics::gauge!(names::QUEUE_PAUSED, "queue" => q).set(if s.paused {
                            1.0
                        } else {
                            0.0
                        });
                    }
                    Err(e) => {
                        record_backend_error("queue_stats");
                        tracing::debug!(queue = %queue, error = %e, "sampling the queue failed");
                    }
                }
            }
        }
        n += 1;
    }
    if metrics_enabled() {
        set_slots(me, None);
        publish_running();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_and_reasons_map_to_their_labels() {
        assert_eq!(KINDS[kind_of(Some(FailureKind::Panic))], "panic");
        assert_eq!(KINDS[kind_of(Some(FailureKind::Timeout))], "timeout");
        assert_eq!(KINDS[kind_of(Some(FailureKind::Error))], "error");
        assert_eq!(KINDS[kind_of(None)], "error");
        for reason in [
            DeadLetterReason::UnknownTask,
            DeadLetterReason::UndecodableArguments,
            DeadLetterReason::MalformedMessage,
            DeadLetterReason::AttemptsExhausted,
        ] {
            // The label is the reason's serde name.
            let json = serde_json::to_string(&reason).unwrap_or_default();
            assert_eq!(json.trim_matches('"'), REASONS[reason_of(reason)]);
        }
    }

    /// What metrics add to one task, in isolation (`cargo test --release -p taskq --lib
    /// observer_cost -- --ignored --nocapture`): its three events and its running guard, into
    /// taskq's Prometheus recorder, with the histograms drained as the upkeep thread would.
    #[cfg(feature = "prometheus")]
    #[test]
    #[ignore = "a measurement, not a check"]
    fn observer_cost() {
        let handle = crate::telemetry::install_prometheus().expect("install");
        let id = crate::message::TaskId::new();
        let enqueued = Event::new(EventKind::Enqueued, id, "bench.noop", "bench");
        let started = Event::new(EventKind::Started, id, "bench.noop", "bench").wait_ms(0);
        let done = Event::new(EventKind::Succeeded, id, "bench.noop", "bench").runtime_ms(0);
        let n = 2_000_000u32;
        let clock = std::time::Instant::now();
        for i in 0..n {
            observe(&enqueued);
            observe(&started);
            let guard = running("bench.noop", "bench");
            drop(guard);
            observe(&done);
            if i % 200_000 == 0 {
                let _ = handle.render();
            }
        }
        let _ = handle.render();
        let ns = clock.elapsed().as_nanos() as f64 / f64::from(n);
        println!("metrics per task: {ns:.0} ns");
        assert!(handle.render().contains("taskq_tasks_submitted_total"));
    }

    #[test]
    fn one_series_per_pair_and_other_past_the_cap() {
        let a = lookup("t.metrics.a", "q");
        let b = lookup("t.metrics.a", "q");
        assert!(std::ptr::eq(a, b));
        let c = lookup("t.metrics.a", "q2");
        assert!(!std::ptr::eq(a, c));
        with_series("t.metrics.a", "q2", |s| assert_eq!(&*s.queue, "q2"));
    }
}
