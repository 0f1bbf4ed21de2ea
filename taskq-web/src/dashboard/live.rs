//! The live aggregator: one background task per web server that follows the backend's event
//! log and samples queue depths and workers, so that no browser ever reads the backend on a
//! timer and no browser gets one message per task event.
//!
//! ```text
//!  Backend::read_events (blocks until events come) ──► fold into per-second counts
//!  Backend::queue_stats + workers(), once a second ──► depths, workers up
//!        │
//!        ├─► broadcast Tick    (one per second: counts of the second that ended, depths)
//!        └─► broadcast Change  (at most 4 per second: which queues / task ids / workers changed)
//!                    │
//!     /ui/stream ────┘  one SSE stream per page: every tick, and the changes that concern what
//!                       the page shows; the page then re-fetches its fragment
//! ```
//!
//! Nothing here is the source of truth: the history it keeps (the last few minutes of counts,
//! recently finished tasks, the events of recent tasks) is rebuilt from the backend's retained
//! event log when the web server starts, so a restart of the web server loses nothing the
//! backend still has. Everything it keeps is bounded.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use taskq::backend::{Backend, WorkerInfo};
use taskq::events::{Event, EventCursor, EventKind, EventRead, StoredEvent};
use taskq::{TaskId, Timestamp};
use tokio::sync::broadcast;

/// Seconds of per-second counts kept (the charts' window).
pub(crate) const HISTORY_SECS: usize = 300;
/// Recently finished tasks kept for the Tasks page.
const RECENT_FINISHED: usize = 1_000;
/// Tasks whose events are kept for their page's timeline.
const TRACKED_TASKS: usize = 10_000;
/// Events kept per tracked task.
const EVENTS_PER_TASK: usize = 64;
/// Distinct (queue, task) pairs counted per second; beyond, they count under task `…`.
const PAIRS_PER_SECOND: usize = 256;
/// Events asked for per read.
const BATCH: usize = 5_000;
/// At most this many retained events are replayed at start; past that the aggregator jumps
/// to the end of the log (the charts then start with a gap).
const SEED_MAX: usize = 200_000;
/// The shortest time between two change signals: pages re-fetch at most this often.
pub(crate) const CHANGE_EVERY: Duration = Duration::from_millis(250);
/// Ids named in one change signal; past that it says "many".
const IDS_PER_CHANGE: usize = 256;
/// How long a tick waits after the second ends for that second's late events.
const TICK_GRACE: Duration = Duration::from_millis(150);
/// Backoff after a backend error.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Counts of transitions in one interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub submitted: u64,
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub retried: u64,
    pub dead: u64,
    pub cancelled: u64,
}

impl Counts {
    fn add(&mut self, kind: EventKind) {
        match kind {
            EventKind::Enqueued => self.submitted += 1,
            EventKind::Started => self.started += 1,
            EventKind::Succeeded => self.succeeded += 1,
            EventKind::Failed => self.failed += 1,
            EventKind::Retried => self.retried += 1,
            EventKind::DeadLettered => self.dead += 1,
            EventKind::Cancelled => self.cancelled += 1,
            _ => {}
        }
    }

    fn merge(&mut self, o: &Counts) {
        self.submitted += o.submitted;
        self.started += o.started;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.retried += o.retried;
        self.dead += o.dead;
        self.cancelled += o.cancelled;
    }

    /// Attempts that ended: succeeded, failed for good, retried.
    pub(crate) fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.retried
    }

    /// The share of ended attempts that failed (retried or failed), 0..=1.
    pub(crate) fn failure_rate(&self) -> f64 {
        let f = self.finished();
        if f == 0 {
            0.0
        } else {
            (self.failed + self.retried) as f64 / f as f64
        }
    }
}

/// The counts of one second.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Second {
    /// Unix seconds.
    pub t: u64,
    /// Over every queue.
    pub all: Counts,
    /// Per queue.
    pub queues: BTreeMap<String, Counts>,
    /// Per queue, then task name.
    pub tasks: BTreeMap<String, BTreeMap<String, Counts>>,
}

impl Second {
    fn new(t: u64) -> Self {
        Self {
            t,
            ..Self::default()
        }
    }

    fn add(&mut self, e: &Event) {
        self.all.add(e.kind);
        self.queues
            .entry(e.queue.to_string())
            .or_default()
            .add(e.kind);
        let pairs: usize = self.tasks.values().map(BTreeMap::len).sum();
        let by_task = self.tasks.entry(e.queue.to_string()).or_default();
        let name = if by_task.contains_key(e.task.as_ref()) || pairs < PAIRS_PER_SECOND {
            e.task.to_string()
        } else {
            "…".to_owned()
        };
        by_task.entry(name).or_default().add(e.kind);
    }
}

/// A queue's depths as sampled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Depth {
    pub ready: usize,
    pub scheduled: usize,
    pub leased: usize,
    pub dead: usize,
    pub paused: bool,
    /// How long the oldest ready task has waited, in milliseconds.
    pub oldest_ready_ms: Option<u64>,
}

/// What every page gets once a second.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Tick {
    /// The second that ended.
    pub second: Second,
    /// Per second over the last minute: tasks finished (succeeded + failed + retried).
    pub throughput: f64,
    /// Depths per queue, sampled at this tick.
    pub depths: BTreeMap<String, Depth>,
    /// Live workers.
    pub workers: usize,
    /// Whether the last read of the backend failed (the page shows it).
    pub backend_error: Option<String>,
}

/// What changed since the last signal.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Change {
    /// Queues with events, or whose depths changed.
    pub queues: BTreeSet<String>,
    /// Tasks with events (empty with `many`).
    pub ids: BTreeSet<TaskId>,
    /// More ids changed than are named.
    pub many: bool,
    /// The set of workers, or one of their heartbeats, changed.
    pub workers: bool,
}

impl Change {
    fn is_empty(&self) -> bool {
        self.queues.is_empty() && self.ids.is_empty() && !self.many && !self.workers
    }

    fn add_event(&mut self, e: &Event) {
        self.queues.insert(e.queue.to_string());
        if self.many {
            return;
        }
        if self.ids.len() >= IDS_PER_CHANGE {
            self.ids.clear();
            self.many = true;
        } else {
            self.ids.insert(e.id);
        }
    }

    /// Whether a task `id` of `queue` may have changed.
    pub(crate) fn touches_task(&self, id: TaskId, queue: Option<&str>) -> bool {
        self.ids.contains(&id) || (self.many && queue.is_none_or(|q| self.queues.contains(q)))
    }

    /// Whether anything in `queue` (any queue for `None`) changed.
    pub(crate) fn touches_queue(&self, queue: Option<&str>) -> bool {
        match queue {
            Some(q) => self.queues.contains(q),
            None => !self.queues.is_empty(),
        }
    }
}

/// A finished task, as the event log told it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Finished {
    pub id: TaskId,
    pub task: String,
    pub queue: String,
    pub kind: EventKind,
    pub at: Timestamp,
    pub attempt: u32,
    pub runtime_ms: Option<u64>,
    pub detail: Option<String>,
}

/// What the aggregator knows now, for pages as they load.
#[derive(Debug, Default)]
struct Snapshot {
    /// The last [`HISTORY_SECS`] seconds, oldest first, one per second (gaps filled).
    history: VecDeque<Second>,
    depths: BTreeMap<String, Depth>,
    workers: Vec<WorkerInfo>,
    recent: VecDeque<Finished>,
    events: HashMap<TaskId, Vec<Event>>,
    tracked: VecDeque<TaskId>,
    backend_error: Option<String>,
    /// The cursor read up to (kept so a restarted loop goes on where it was).
    cursor: EventCursor,
}

impl Snapshot {
    fn second_mut(&mut self, t: u64) -> Option<&mut Second> {
        let newest = self.history.back().map(|s| s.t);
        match newest {
            None => {
                self.history.push_back(Second::new(t));
            }
            Some(n) if t > n => {
                // Fill the gap, keep the window.
                let from = n + 1;
                let from = from.max(t.saturating_sub(HISTORY_SECS as u64 - 1));
                if from > n + 1 {
                    self.history.clear();
                }
                for s in from..=t {
                    self.history.push_back(Second::new(s));
                }
                while self.history.len() > HISTORY_SECS {
                    self.history.pop_front();
                }
            }
            _ => {}
        }
        let first = self.history.front()?.t;
        if t < first {
            return None;
        }
        self.history.get_mut((t - first) as usize)
    }

    fn record(&mut self, e: &Event) {
        let t = e.at.as_millis() / 1000;
        if let Some(s) = self.second_mut(t) {
            s.add(e);
        }
        if matches!(
            e.kind,
            EventKind::Succeeded
                | EventKind::Failed
                | EventKind::Cancelled
                | EventKind::DeadLettered
        ) {
            if self.recent.len() >= RECENT_FINISHED {
                self.recent.pop_front();
            }
            self.recent.push_back(Finished {
                id: e.id,
                task: e.task.to_string(),
                queue: e.queue.to_string(),
                kind: e.kind,
                at: e.at,
                attempt: e.attempt,
                runtime_ms: e.runtime_ms,
                detail: e.detail.clone(),
            });
        }
        match self.events.get_mut(&e.id) {
            Some(list) => {
                if list.len() >= EVENTS_PER_TASK {
                    list.remove(0);
                }
                list.push(e.clone());
            }
            None => {
                if self.tracked.len() >= TRACKED_TASKS {
                    if let Some(old) = self.tracked.pop_front() {
                        self.events.remove(&old);
                    }
                }
                self.tracked.push_back(e.id);
                self.events.insert(e.id, vec![e.clone()]);
            }
        }
    }
}

/// The aggregator of one web server. Cheap to create; its background task starts with the
/// first page or stream that asks for it, and stops when the `Live` is dropped.
pub(crate) struct Live {
    backend: Arc<dyn Backend>,
    started: OnceLock<()>,
    ticks: broadcast::Sender<Arc<Tick>>,
    changes: broadcast::Sender<Arc<Change>>,
    snapshot: Mutex<Snapshot>,
    /// Set once the retained log has been replayed and depths sampled once.
    seeded: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("backend", &self.backend.name())
            .field("started", &self.started.get().is_some())
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<Snapshot>) -> MutexGuard<'_, Snapshot> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Live {
    /// An aggregator over `backend`, not started yet.
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Arc<Self> {
        Arc::new(Self {
            backend,
            started: OnceLock::new(),
            ticks: broadcast::channel(16).0,
            changes: broadcast::channel(64).0,
            snapshot: Mutex::new(Snapshot::default()),
            seeded: tokio::sync::watch::channel(false).0,
        })
    }

    /// Starts the background task if it is not running. Must be called on a Tokio runtime.
    pub(crate) fn ensure_started(self: &Arc<Self>) {
        self.started.get_or_init(|| {
            let weak = Arc::downgrade(self);
            let backend = Arc::clone(&self.backend);
            tokio::spawn(run(weak, backend));
        });
    }

    /// The ticks from now on.
    pub(crate) fn ticks(self: &Arc<Self>) -> broadcast::Receiver<Arc<Tick>> {
        self.ensure_started();
        self.ticks.subscribe()
    }

    /// The change signals from now on.
    pub(crate) fn changes(self: &Arc<Self>) -> broadcast::Receiver<Arc<Change>> {
        self.ensure_started();
        self.changes.subscribe()
    }

    /// The per-second history, oldest first.
    pub(crate) fn history(self: &Arc<Self>) -> Vec<Second> {
        self.ensure_started();
        lock(&self.snapshot).history.iter().cloned().collect()
    }

    /// The last sampled depths, per queue.
    pub(crate) fn depths(self: &Arc<Self>) -> BTreeMap<String, Depth> {
        self.ensure_started();
        lock(&self.snapshot).depths.clone()
    }

    /// The last sampled workers.
    pub(crate) fn workers(self: &Arc<Self>) -> Vec<WorkerInfo> {
        self.ensure_started();
        lock(&self.snapshot).workers.clone()
    }

    /// Recently finished tasks, newest first, that `keep` selects, at most `limit`.
    pub(crate) fn recent(
        self: &Arc<Self>,
        limit: usize,
        keep: impl Fn(&Finished) -> bool,
    ) -> Vec<Finished> {
        self.ensure_started();
        lock(&self.snapshot)
            .recent
            .iter()
            .rev()
            .filter(|f| keep(f))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The events retained for task `id`, oldest first.
    pub(crate) fn events_of(self: &Arc<Self>, id: TaskId) -> Vec<Event> {
        self.ensure_started();
        lock(&self.snapshot)
            .events
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the retained log was replayed.
    pub(crate) fn seeded(&self) -> bool {
        *self.seeded.borrow()
    }

    /// Waits (at most `within`) until the retained log was replayed and depths and workers
    /// were sampled once, so that the first page a fresh server renders is not empty.
    pub(crate) async fn wait_seeded(self: &Arc<Self>, within: Duration) {
        self.ensure_started();
        let mut rx = self.seeded.subscribe();
        let _ = tokio::time::timeout(within, rx.wait_for(|s| *s)).await;
    }

    /// The last backend error, if the last read failed.
    pub(crate) fn backend_error(&self) -> Option<String> {
        lock(&self.snapshot).backend_error.clone()
    }
}

/// Replays the retained log (bounded), then follows it, ticking once a second.
async fn run(live: Weak<Live>, backend: Arc<dyn Backend>) {
    let mut queues: Vec<String>;
    let mut cursor = EventCursor::default();
    // --- replay what the backend retains -------------------------------------------------
    let mut replayed = 0usize;
    loop {
        let Some(me) = live.upgrade() else { return };
        match backend.queues().await {
            Ok(q) => queues = q,
            Err(e) => {
                lock(&me.snapshot).backend_error = Some(e.to_string());
                drop(me);
                tokio::time::sleep(ERROR_PAUSE).await;
                continue;
            }
        }
        let read = backend
            .read_events(EventRead {
                queues: &queues,
                after: &cursor,
                max: BATCH,
                wait: Duration::ZERO,
            })
            .await;
        match read {
            Ok(batch) => {
                let got = batch.len();
                fold(&me, &mut cursor, &batch, &mut Change::default());
                replayed += got;
                if got < BATCH {
                    break;
                }
                if replayed >= SEED_MAX {
                    if let Ok(end) = backend.events_now(&queues).await {
                        cursor = end;
                    }
                    break;
                }
            }
            Err(e) => {
                // A backend without an event log: ticks still carry depths and workers.
                tracing::debug!(error = %e, "dashboard: could not replay the event log");
                lock(&me.snapshot).backend_error = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(me) = live.upgrade() {
        // A first sample, so pages have depths and workers before the first tick.
        let _ = sample(&me, &backend, &queues, &mut Change::default()).await;
        me.seeded.send_replace(true);
    }
    // --- follow -----------------------------------------------------------------------------
    let mut pending = Change::default();
    let mut last_change = Instant::now() - CHANGE_EVERY;
    let mut next_tick = next_second_boundary();
    let mut events_ok = true;
    loop {
        let Some(me) = live.upgrade() else { return };
        let now = Instant::now();
        if now >= next_tick {
            match backend.queues().await {
                Ok(q) => queues = q,
                Err(e) => tracing::debug!(error = %e, "dashboard: could not list queues"),
            }
            let tick = sample(&me, &backend, &queues, &mut pending).await;
            let _ = me.ticks.send(Arc::new(tick));
            next_tick = next_second_boundary();
        }
        let now = Instant::now();
        if !pending.is_empty() && now.duration_since(last_change) >= CHANGE_EVERY {
            let _ = me.changes.send(Arc::new(std::mem::take(&mut pending)));
            last_change = now;
        }
        // Wait for events until the next tick, or until a pending change may go out.
        let mut wait = next_tick.saturating_duration_since(Instant::now());
        if !pending.is_empty() {
            wait = wait.min((last_change + CHANGE_EVERY).saturating_duration_since(Instant::now()));
        }
        let wait = wait.max(Duration::from_millis(1));
        drop(me);
        if !events_ok || queues.is_empty() {
            tokio::time::sleep(wait).await;
            events_ok = true;
            continue;
        }
        let read = backend
            .read_events(EventRead {
                queues: &queues,
                after: &cursor,
                max: BATCH,
                wait,
            })
            .await;
        let Some(me) = live.upgrade() else { return };
        match read {
            Ok(batch) => fold(&me, &mut cursor, &batch, &mut pending),
            Err(e) => {
                tracing::debug!(error = %e, "dashboard: could not read the event log");
                lock(&me.snapshot).backend_error = Some(e.to_string());
                events_ok = false;
            }
        }
    }
}

/// Folds a batch of events into the snapshot and the pending change.
fn fold(live: &Live, cursor: &mut EventCursor, batch: &[StoredEvent], change: &mut Change) {
    if batch.is_empty() {
        return;
    }
    let mut snap = lock(&live.snapshot);
    for stored in batch {
        cursor.advance(stored);
        snap.record(&stored.event);
        change.add_event(&stored.event);
    }
    snap.cursor = cursor.clone();
}

/// Samples depths and workers, and builds the tick of the second that just ended.
async fn sample(
    live: &Live,
    backend: &Arc<dyn Backend>,
    queues: &[String],
    change: &mut Change,
) -> Tick {
    let mut depths = BTreeMap::new();
    let mut error = None;
    let now = Timestamp::now();
    for q in queues {
        match backend.queue_stats(q).await {
            Ok(s) => {
                depths.insert(
                    q.clone(),
                    Depth {
                        ready: s.ready,
                        scheduled: s.delayed,
                        leased: s.running,
                        dead: s.dead,
                        paused: s.paused,
                        oldest_ready_ms: s
                            .oldest_ready
                            .map(|t| now.as_millis().saturating_sub(t.as_millis())),
                    },
                );
            }
            Err(e) => error = Some(e.to_string()),
        }
    }
    let workers = match backend.workers().await {
        Ok(w) => Some(w),
        Err(taskq::BackendError::Unsupported { .. }) => Some(Vec::new()),
        Err(e) => {
            error = Some(e.to_string());
            None
        }
    };
    let ended = now.as_millis() / 1000 - 1;
    let mut snap = lock(&live.snapshot);
    for (q, d) in &depths {
        let mut a = d.clone();
        let mut b = snap.depths.get(q).cloned().unwrap_or_default();
        a.oldest_ready_ms = None;
        b.oldest_ready_ms = None;
        if a != b {
            change.queues.insert(q.clone());
        }
    }
    snap.depths = depths.clone();
    if let Some(mut w) = workers {
        w.sort_by(|a, b| a.id.cmp(&b.id));
        if w != snap.workers {
            change.workers = true;
        }
        snap.workers = w;
    }
    snap.backend_error = error.clone();
    let second = snap
        .second_mut(ended)
        .cloned()
        .unwrap_or_else(|| Second::new(ended));
    let minute: Vec<&Second> = snap
        .history
        .iter()
        .filter(|s| s.t <= ended && s.t + 60 > ended)
        .collect();
    let mut sum = Counts::default();
    for s in &minute {
        sum.merge(&s.all);
    }
    let throughput = if minute.is_empty() {
        0.0
    } else {
        sum.finished() as f64 / minute.len() as f64
    };
    Tick {
        second,
        throughput,
        depths,
        workers: snap.workers.len(),
        backend_error: error,
    }
}

/// The next wall-clock second boundary (plus a grace for late events), as an `Instant`.
fn next_second_boundary() -> Instant {
    let ms = Timestamp::now().as_millis();
    let to_boundary = 1000 - ms % 1000;
    Instant::now() + Duration::from_millis(to_boundary) + TICK_GRACE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, queue: &'static str, at_ms: u64) -> Event {
        let mut e = Event::new(kind, TaskId::new(), "tasks.add", queue);
        e.at = Timestamp(at_ms);
        e
    }

    #[test]
    fn events_count_in_the_second_they_happened() {
        let mut s = Snapshot::default();
        s.record(&event(EventKind::Enqueued, "a", 10_000));
        s.record(&event(EventKind::Succeeded, "a", 10_999));
        s.record(&event(EventKind::Failed, "b", 12_500));
        let h: Vec<_> = s.history.iter().map(|x| (x.t, x.all.finished())).collect();
        assert_eq!(h, vec![(10, 1), (11, 0), (12, 1)]);
        assert_eq!(s.history[0].queues["a"].submitted, 1);
        assert_eq!(s.history[2].tasks["b"]["tasks.add"].failed, 1);
        assert_eq!(s.recent.len(), 2);
    }

    #[test]
    fn the_window_and_the_caches_stay_bounded() {
        let mut s = Snapshot::default();
        for i in 0..(TRACKED_TASKS as u64 + 10) {
            s.record(&event(EventKind::Succeeded, "a", i * 1000));
        }
        assert_eq!(s.history.len(), HISTORY_SECS);
        assert_eq!(s.recent.len(), RECENT_FINISHED);
        assert_eq!(s.events.len(), TRACKED_TASKS);
        assert_eq!(s.tracked.len(), TRACKED_TASKS);
        // An event older than the window counts nowhere but is still kept for its task.
        let old = event(EventKind::Started, "a", 0);
        s.record(&old);
        assert_eq!(s.events[&old.id].len(), 1);
    }

    #[test]
    fn a_change_names_ids_until_there_are_too_many() {
        let mut c = Change::default();
        let first = event(EventKind::Enqueued, "a", 1);
        c.add_event(&first);
        assert!(c.touches_task(first.id, Some("a")));
        assert!(!c.touches_task(TaskId::new(), Some("a")));
        for _ in 0..IDS_PER_CHANGE {
            c.add_event(&event(EventKind::Enqueued, "a", 1));
        }
        assert!(c.many && c.ids.is_empty());
        assert!(c.touches_task(TaskId::new(), Some("a")));
        assert!(!c.touches_task(TaskId::new(), Some("b")));
        assert!(c.touches_queue(None) && c.touches_queue(Some("a")));
    }

    #[test]
    fn the_failure_rate_counts_retries_and_failures() {
        let c = Counts {
            succeeded: 3,
            failed: 1,
            ..Default::default()
        };
        assert!((c.failure_rate() - 0.25).abs() < 1e-9);
        assert_eq!(Counts::default().failure_rate(), 0.0);
    }
}
