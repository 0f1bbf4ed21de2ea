//! The in-memory backend: the embedded default for tests, examples and single-process apps.
//!
//! Everything lives under one mutex: per-queue heaps of ready tasks (by priority, then FIFO) and
//! delayed tasks (by due time), a heap of lease deadlines, the results with their expiry, and the
//! dead letters. Heap entries are removed lazily: each carries the sequence number its slot had
//! when it was pushed, and an entry whose slot has moved on is skipped. Time is tokio's clock, so
//! tests can pause it.
//!
//! Beside the queues: a capped event log per queue ([`events`]), the registry of live workers
//! with their heartbeat deadlines, and the set of paused queues that `fetch` skips; listing and
//! inspection read the same state ([`inspect`]).

mod events;
mod flow;
mod inspect;
mod schedules;
mod unique;

use std::borrow::Cow;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::{
    Backend, CancelOutcome, Completion, DeadSelection, FetchRequest, LeaseStatus, ListState, Page,
    QueueStats, TaskDetail, TaskSummary, WorkerInfo,
};
use crate::error::BackendError;
use crate::events::{Event, EventCursor, EventRead, StoredEvent};
use crate::message::{
    DeadLetter, DeadLetterReason, Delivery, Envelope, FailureKind, IdMap, Lease, Outcome, Payload,
    TaskFailure, TaskId, Timestamp,
};
use crate::schedule::{ScheduleSpec, StoredSchedule, TickClaim, TickOutcome};
use crate::state::{TaskRecord, TaskState};

/// The in-memory backend. Cheap to clone: clones share the same queues.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// use std::sync::Arc;
/// let backend = Arc::new(taskq::backend::memory::MemoryBackend::new());
/// let client = taskq::Client::new(backend);
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Woken whenever something may have become ready.
    ready: Notify,
    /// How many fetches are asleep on `ready`: publishers skip the notification (and its lock)
    /// when none is.
    sleepers: AtomicUsize,
    /// The event log, under its own lock (appends come from every runner).
    events: events::EventLog,
}

impl Shared {
    fn wake_fetchers(&self) {
        if self.sleepers.load(AtomicOrdering::SeqCst) > 0 {
            self.ready.notify_waiters();
        }
    }
}

#[derive(Default)]
struct State {
    seq: u64,
    queues: HashMap<String, Queue>,
    tasks: IdMap<Box<Slot>>,
    leases: BinaryHeap<Reverse<(Instant, u64, TaskId)>>,
    results: IdMap<Stored>,
    result_expiry: BinaryHeap<Reverse<(Instant, TaskId)>>,
    waiters: IdMap<Vec<oneshot::Sender<Outcome>>>,
    dead: HashMap<String, VecDeque<DeadLetter>>,
    counters: HashMap<String, (i64, Instant)>,
    /// Ids published through `publish_once`, until when they are remembered.
    published: IdMap<Instant>,
    joins: HashMap<String, (Vec<Option<Payload>>, Instant)>,
    /// Queues that fetches skip.
    paused: HashSet<String>,
    /// Live workers and when their last heartbeat runs out.
    workers: HashMap<String, (WorkerInfo, Instant)>,
    /// Periodic schedules and their states.
    schedules: schedules::Schedules,
    /// Unique keys and their holders.
    unique: unique::Uniques,
    /// Rate and concurrency limits.
    flow: flow::Flow,
}

#[derive(Default)]
struct Queue {
    ready: BinaryHeap<ReadyKey>,
    delayed: BinaryHeap<Reverse<(Instant, u64, TaskId)>>,
}

#[derive(PartialEq, Eq)]
struct ReadyKey {
    priority: u8,
    seq: u64,
    id: TaskId,
}

impl Ord for ReadyKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap: higher priority first, then the older (smaller) sequence number.
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ReadyKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

struct Slot {
    env: Envelope,
    /// The sequence number of this slot's live heap entry.
    seq: u64,
    status: Status,
    expires: Option<Instant>,
    progress: Option<Payload>,
    /// When it last became ready (enqueued, due, handed back).
    ready_at: Instant,
    /// When its current lease began.
    leased_at: Option<Instant>,
    /// Scheduled: when it is due.
    due: Option<Instant>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ready,
    Delayed,
    Leased {
        deadline: Instant,
        cancel_requested: bool,
    },
}

struct Stored {
    outcome: Outcome,
    expires: Instant,
    progress: Option<Payload>,
    /// What inspection tells of a finished task.
    about: Finished,
}

/// What is kept of a finished task beside its outcome.
#[derive(Clone, Default)]
struct Finished {
    task: Option<Cow<'static, str>>,
    queue: Option<String>,
    attempt: u32,
    created_at: Option<Timestamp>,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    args: Option<Payload>,
}

impl Finished {
    fn of(env: &Envelope) -> Self {
        Self {
            task: Some(Cow::Owned(env.task.clone())),
            queue: Some(env.queue.clone()),
            attempt: env.attempt,
            created_at: Some(env.enqueued_at),
            started_at: None,
            finished_at: Some(Timestamp::now()),
            args: (env.args.as_str().len() <= super::KEPT_ARGS_MAX).then(|| env.args.clone()),
        }
    }
}

/// Counts a sleeping fetch for as long as it lives (also when the fetch is dropped).
struct SleeperGuard<'a>(&'a AtomicUsize);

impl<'a> SleeperGuard<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, AtomicOrdering::SeqCst);
        Self(count)
    }
}

impl Drop for SleeperGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, AtomicOrdering::SeqCst);
    }
}

fn instant_of(ts: Timestamp, now: Instant) -> Instant {
    now + ts.remaining()
}

/// The wall-clock time of `at` on tokio's clock (`now` being the same moment on both).
fn timestamp_of(at: Instant, now: Instant) -> Timestamp {
    let wall = Timestamp::now();
    if at >= now {
        wall.after(at - now)
    } else {
        let back = u64::try_from((now - at).as_millis()).unwrap_or(u64::MAX);
        Timestamp(wall.0.saturating_sub(back))
    }
}

impl State {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// `id` stops being leased (or ends): its concurrency permit, if it held one, goes to the
    /// next live waiter of its key.
    fn release_gate(&mut self, id: TaskId) {
        let Some(key) = self.flow.release(id) else {
            return;
        };
        while let Some(w) = self.flow.next_waiter(&key) {
            if self
                .tasks
                .get(&w)
                .is_some_and(|s| s.status == Status::Ready)
            {
                self.push_ready(w);
                break;
            }
        }
    }

    fn push_ready(&mut self, id: TaskId) {
        self.release_gate(id);
        let seq = self.next_seq();
        if let Some(slot) = self.tasks.get_mut(&id) {
            slot.seq = seq;
            slot.status = Status::Ready;
            slot.ready_at = Instant::now();
            slot.due = None;
            slot.leased_at = None;
            let priority = slot.env.priority;
            let queue = self.queues.entry(slot.env.queue.clone()).or_default();
            queue.ready.push(ReadyKey { priority, seq, id });
        }
    }

    fn push_delayed(&mut self, id: TaskId, due: Instant) {
        self.release_gate(id);
        let seq = self.next_seq();
        if let Some(slot) = self.tasks.get_mut(&id) {
            slot.seq = seq;
            slot.status = Status::Delayed;
            slot.due = Some(due);
            slot.leased_at = None;
            let queue = self.queues.entry(slot.env.queue.clone()).or_default();
            queue.delayed.push(Reverse((due, seq, id)));
        }
    }

    fn insert(&mut self, env: Envelope, now: Instant) {
        let id = env.id;
        // Only messages with a time in them need the wall clock.
        let wall = (env.eta.is_some() || env.expires.is_some()).then(Timestamp::now);
        let due = env
            .eta
            .filter(|eta| wall.is_some_and(|w| *eta > w))
            .map(|eta| instant_of(eta, now));
        let expires = env.expires.map(|e| instant_of(e, now));
        self.tasks.insert(
            id,
            Box::new(Slot {
                env,
                seq: 0,
                status: Status::Ready,
                expires,
                progress: None,
                ready_at: now,
                leased_at: None,
                due: None,
            }),
        );
        match due {
            Some(due) => self.push_delayed(id, due),
            None => self.push_ready(id),
        }
    }

    /// Moves due delayed tasks of `queue` to ready.
    fn promote(&mut self, queue: &str, now: Instant) {
        loop {
            let Some(q) = self.queues.get_mut(queue) else {
                return;
            };
            match q.delayed.peek() {
                Some(Reverse((due, _, _))) if *due <= now => {}
                _ => return,
            }
            let Some(Reverse((_, seq, id))) = q.delayed.pop() else {
                return;
            };
            let live = self
                .tasks
                .get(&id)
                .is_some_and(|s| s.seq == seq && s.status == Status::Delayed);
            if live {
                self.push_ready(id);
            }
        }
    }

    /// Puts tasks whose lease expired back in their queue; their attempt stays counted.
    fn reclaim(&mut self, now: Instant) {
        while let Some(Reverse((deadline, _, _))) = self.leases.peek() {
            if *deadline > now {
                break;
            }
            let Some(Reverse((deadline, _, id))) = self.leases.pop() else {
                break;
            };
            let expired = self.tasks.get(&id).is_some_and(
                |s| matches!(s.status, Status::Leased { deadline: d, .. } if d == deadline),
            );
            if expired {
                self.push_ready(id);
            }
        }
    }

    fn next_wake(&self, queues: &[String]) -> Option<Instant> {
        let delayed = queues
            .iter()
            .filter_map(|q| self.queues.get(q))
            .filter_map(|q| q.delayed.peek().map(|Reverse((due, _, _))| *due))
            .min();
        let lease = self.leases.peek().map(|Reverse((d, _, _))| *d);
        match (delayed, lease) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Pops the highest-priority live ready task across `queues`.
    fn pop_ready(&mut self, queues: &[String]) -> Option<TaskId> {
        loop {
            let mut best: Option<(usize, u8, u64)> = None;
            for (i, name) in queues.iter().enumerate() {
                if let Some(top) = self.queues.get(name.as_str()).and_then(|q| q.ready.peek()) {
                    let better = match best {
                        None => true,
                        Some((_, p, s)) => (top.priority, Reverse(top.seq)) > (p, Reverse(s)),
                    };
                    if better {
                        best = Some((i, top.priority, top.seq));
                    }
                }
            }
            let (i, _, _) = best?;
            let key = self.queues.get_mut(queues[i].as_str())?.ready.pop()?;
            let live = self
                .tasks
                .get(&key.id)
                .is_some_and(|s| s.seq == key.seq && s.status == Status::Ready);
            if live {
                return Some(key.id);
            }
        }
    }

    fn lease_is_current(&self, lease: &Lease) -> bool {
        self.tasks.get(&lease.id).is_some_and(|s| {
            s.env.attempt == lease.attempt && matches!(s.status, Status::Leased { .. })
        })
    }

    /// Stores a final outcome and wakes its waiters.
    fn finish(
        &mut self,
        id: TaskId,
        outcome: Outcome,
        ttl: Option<Duration>,
        progress: Option<Payload>,
        about: Finished,
        now: Instant,
    ) {
        self.unique.release(id);
        self.release_gate(id);
        if let Some(waiters) = self.waiters.remove(&id) {
            for w in waiters {
                let _ = w.send(outcome.clone());
            }
        }
        if let Some(ttl) = ttl {
            let expires = now + ttl;
            self.results.insert(
                id,
                Stored {
                    outcome,
                    expires,
                    progress,
                    about,
                },
            );
            self.result_expiry.push(Reverse((expires, id)));
        }
    }

    fn expire_results(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.result_expiry.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, id))) = self.result_expiry.pop() else {
                break;
            };
            if self.results.get(&id).is_some_and(|r| r.expires == at) {
                self.results.remove(&id);
            }
        }
    }

    fn live_result(&self, id: &TaskId, now: Instant) -> Option<&Stored> {
        self.results.get(id).filter(|r| r.expires > now)
    }
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed in a way that
        // matters more than losing the backend, so keep serving.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self, req: &FetchRequest<'_>, now: Instant) -> (Vec<Delivery>, Option<Instant>) {
        let mut st = self.lock();
        st.reclaim(now);
        st.flow.sweep(now);
        // Paused queues are left out of this fetch (decided here, so a paused queue's tasks
        // wait in it, not in a worker).
        let open: Cow<'_, [String]> = if st.paused.is_empty() {
            Cow::Borrowed(req.queues)
        } else {
            Cow::Owned(
                req.queues
                    .iter()
                    .filter(|q| !st.paused.contains(q.as_str()))
                    .cloned()
                    .collect(),
            )
        };
        let req = &FetchRequest {
            queues: &open,
            ..*req
        };
        for q in req.queues {
            st.promote(q, now);
        }
        let mut out = Vec::new();
        let lease_deadline = now + req.lease;
        while out.len() < req.max {
            let Some(id) = st.pop_ready(req.queues) else {
                break;
            };
            let expired = st
                .tasks
                .get(&id)
                .and_then(|s| s.expires)
                .is_some_and(|e| e <= now);
            if expired {
                if let Some(slot) = st.tasks.remove(&id) {
                    let ttl = slot.env.result_ttl();
                    let failure = TaskFailure::new(
                        FailureKind::Expired,
                        "the task expired before a worker started it",
                    );
                    let about = Finished::of(&slot.env);
                    st.finish(id, Outcome::Failure(failure), ttl, None, about, now);
                }
                continue;
            }
            // Fleet-wide limits, decided here so a limited task holds no worker slot.
            if let Some((queue, gate)) = st
                .tasks
                .get(&id)
                .and_then(|s| s.env.gate.clone().map(|g| (s.env.queue.clone(), g)))
            {
                match st.flow.admit(&queue, id, &gate, now, Timestamp::now().0) {
                    flow::Admission::Go => {}
                    flow::Admission::Later(at) => {
                        st.push_delayed(id, at);
                        continue;
                    }
                    flow::Admission::Wait => continue,
                }
            }
            let seq = st.next_seq();
            let Some(slot) = st.tasks.get_mut(&id) else {
                continue;
            };
            slot.env.attempt += 1;
            slot.seq = seq;
            slot.leased_at = Some(now);
            slot.status = Status::Leased {
                deadline: lease_deadline,
                cancel_requested: false,
            };
            out.push(Delivery::new(slot.env.clone()));
            st.leases.push(Reverse((lease_deadline, seq, id)));
        }
        let wake = if out.is_empty() {
            st.next_wake(req.queues)
        } else {
            None
        };
        (out, wake)
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn publish(&self, batch: Vec<Envelope>) -> Result<(), BackendError> {
        let now = Instant::now();
        {
            let mut st = self.lock();
            for env in batch {
                st.insert(env, now);
            }
        }
        self.shared.wake_fetchers();
        Ok(())
    }

    async fn fetch(&self, req: FetchRequest<'_>) -> Result<Vec<Delivery>, BackendError> {
        let give_up = Instant::now() + req.wait;
        let now = Instant::now();
        let (out, _) = self.take(&req, now);
        if !out.is_empty() || req.wait.is_zero() || req.max == 0 {
            return Ok(out);
        }
        // Nothing ready: sleep until a publish, the next due time, or the end of the wait. The
        // notification is armed and counted before looking again, so a publish in between is
        // never missed.
        let _asleep = SleeperGuard::new(&self.shared.sleepers);
        loop {
            let notified = self.shared.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let (out, wake) = self.take(&req, now);
            if !out.is_empty() || now >= give_up {
                return Ok(out);
            }
            let until = wake.map_or(give_up, |w| w.min(give_up));
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        st.expire_results(now);
        let mut accepted = Vec::with_capacity(batch.len());
        for c in batch {
            if !st.lease_is_current(&c.lease) {
                accepted.push(false);
                continue;
            }
            let (progress, mut about) = match st.tasks.remove(&c.lease.id) {
                Some(s) => (s.progress, Finished::of(&s.env)),
                None => (None, Finished::default()),
            };
            if c.task.is_some() {
                about.task = c.task.clone();
            }
            if c.args.is_some() {
                about.args = c.args.clone();
            }
            about.started_at = c.started_at;
            st.finish(
                c.lease.id,
                c.outcome.clone(),
                c.result_ttl,
                progress,
                about,
                now,
            );
            accepted.push(true);
        }
        let woke = st.flow.take_woke();
        drop(st);
        if woke {
            self.shared.wake_fetchers();
        }
        Ok(accepted)
    }

    async fn retry(
        &self,
        lease: &Lease,
        delay: Duration,
        _failure: &TaskFailure,
    ) -> Result<bool, BackendError> {
        let now = Instant::now();
        {
            let mut st = self.lock();
            if !st.lease_is_current(lease) {
                return Ok(false);
            }
            st.push_delayed(lease.id, now + delay);
        }
        self.shared.wake_fetchers();
        Ok(true)
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        {
            let mut st = self.lock();
            for lease in leases {
                if st.lease_is_current(&lease) {
                    if let Some(slot) = st.tasks.get_mut(&lease.id) {
                        slot.env.attempt = slot.env.attempt.saturating_sub(1);
                    }
                    st.push_ready(lease.id);
                }
            }
        }
        self.shared.wake_fetchers();
        Ok(())
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        reason: DeadLetterReason,
        failure: &TaskFailure,
        result_ttl: Option<Duration>,
        _reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        if !st.lease_is_current(lease) {
            return Ok(false);
        }
        let Some(slot) = st.tasks.remove(&lease.id) else {
            return Ok(false);
        };
        let letter = DeadLetter {
            id: lease.id,
            queue: slot.env.queue.clone(),
            reason,
            message: failure.message.clone(),
            envelope: Some(slot.env),
            raw: None,
            at: Timestamp::now(),
        };
        let about = letter
            .envelope
            .as_ref()
            .map(Finished::of)
            .unwrap_or_default();
        st.dead
            .entry(letter.queue.clone())
            .or_default()
            .push_back(letter);
        st.finish(
            lease.id,
            Outcome::Failure(failure.clone()),
            result_ttl,
            slot.progress,
            about,
            now,
        );
        let woke = st.flow.take_woke();
        drop(st);
        if woke {
            self.shared.wake_fetchers();
        }
        Ok(true)
    }

    async fn extend(
        &self,
        leases: &[Lease],
        by: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        let now = Instant::now();
        let deadline = now + by;
        let mut st = self.lock();
        let mut out = Vec::with_capacity(leases.len());
        for lease in leases {
            if !st.lease_is_current(lease) {
                out.push(LeaseStatus::Lost);
                continue;
            }
            let seq = st.next_seq();
            let mut cancelled = false;
            if let Some(slot) = st.tasks.get_mut(&lease.id) {
                if let Status::Leased {
                    cancel_requested, ..
                } = slot.status
                {
                    cancelled = cancel_requested;
                    slot.status = Status::Leased {
                        deadline,
                        cancel_requested,
                    };
                    slot.seq = seq;
                }
            }
            st.leases.push(Reverse((deadline, seq, lease.id)));
            out.push(if cancelled {
                LeaseStatus::Cancelled
            } else {
                LeaseStatus::Held
            });
        }
        Ok(out)
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        let status = match st.tasks.get(&id) {
            Some(slot) => slot.status,
            None => return Ok(CancelOutcome::NotFound),
        };
        match status {
            Status::Ready | Status::Delayed => {
                if let Some(slot) = st.tasks.remove(&id) {
                    let ttl = slot.env.result_ttl();
                    let failure = TaskFailure::new(FailureKind::Cancelled, "revoked");
                    let about = Finished::of(&slot.env);
                    st.finish(
                        id,
                        Outcome::Failure(failure),
                        ttl,
                        slot.progress,
                        about,
                        now,
                    );
                }
                Ok(CancelOutcome::Removed)
            }
            Status::Leased { deadline, .. } => {
                if let Some(slot) = st.tasks.get_mut(&id) {
                    slot.status = Status::Leased {
                        deadline,
                        cancel_requested: true,
                    };
                }
                Ok(CancelOutcome::Signalled)
            }
        }
    }

    async fn record(&self, id: TaskId) -> Result<Option<TaskRecord>, BackendError> {
        let now = Instant::now();
        let st = self.lock();
        if let Some(r) = st.live_result(&id, now) {
            return Ok(Some(TaskRecord {
                id,
                state: r.outcome.state(),
                outcome: Some(r.outcome.clone()),
                progress: r.progress.clone(),
            }));
        }
        Ok(st.tasks.get(&id).map(|slot| TaskRecord {
            id,
            state: match slot.status {
                Status::Ready => TaskState::Pending,
                Status::Delayed if slot.env.attempt > 0 => TaskState::Retrying,
                Status::Delayed => TaskState::Scheduled,
                Status::Leased { .. } => TaskState::Running,
            },
            outcome: None,
            progress: slot.progress.clone(),
        }))
    }

    async fn wait_result(
        &self,
        id: TaskId,
        timeout: Option<Duration>,
    ) -> Result<Option<Outcome>, BackendError> {
        let rx = {
            let now = Instant::now();
            let mut st = self.lock();
            if let Some(r) = st.live_result(&id, now) {
                return Ok(Some(r.outcome.clone()));
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.entry(id).or_default().push(tx);
            rx
        };
        let got = match timeout {
            Some(t) => tokio::time::timeout(t, rx).await.ok(),
            None => Some(rx.await),
        };
        match got {
            Some(Ok(outcome)) => Ok(Some(outcome)),
            // The sender is dropped only with the backend.
            Some(Err(_)) => Err(BackendError::Closed("memory")),
            None => {
                let mut st = self.lock();
                if let Some(ws) = st.waiters.get_mut(&id) {
                    ws.retain(|w| !w.is_closed());
                    if ws.is_empty() {
                        st.waiters.remove(&id);
                    }
                }
                Ok(None)
            }
        }
    }

    async fn set_progress(&self, lease: &Lease, progress: Payload) -> Result<(), BackendError> {
        let mut st = self.lock();
        if st.lease_is_current(lease) {
            if let Some(slot) = st.tasks.get_mut(&lease.id) {
                slot.progress = Some(progress);
            }
        }
        Ok(())
    }

    async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BackendError> {
        let st = self.lock();
        Ok(st
            .dead
            .get(queue)
            .map(|d| d.iter().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn requeue_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        let now = Instant::now();
        let count = {
            let mut st = self.lock();
            let Some(dead) = st.dead.remove(queue) else {
                return Ok(0);
            };
            let mut take = Vec::new();
            let mut keep = VecDeque::with_capacity(dead.len());
            for d in dead {
                if take.len() < limit && d.envelope.is_some() && select.matches(d.id, d.reason) {
                    take.push(d);
                } else {
                    keep.push_back(d);
                }
            }
            if !keep.is_empty() {
                st.dead.insert(queue.to_owned(), keep);
            }
            let n = take.len();
            for d in take {
                if let Some(mut env) = d.envelope {
                    env.attempt = 0;
                    env.eta = None;
                    env.expires = None;
                    st.results.remove(&env.id);
                    st.insert(env, now);
                }
            }
            n
        };
        self.shared.wake_fetchers();
        Ok(count)
    }

    async fn purge_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        let mut st = self.lock();
        let Some(dead) = st.dead.get_mut(queue) else {
            return Ok(0);
        };
        let mut n = 0;
        dead.retain(|d| {
            let drop = n < limit && select.matches(d.id, d.reason);
            n += usize::from(drop);
            !drop
        });
        if dead.is_empty() {
            st.dead.remove(queue);
        }
        Ok(n)
    }

    async fn incr_counter(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        let entry = st.counters.entry(key.to_owned()).or_insert((0, now + ttl));
        if entry.1 <= now {
            entry.0 = 0;
        }
        entry.0 += by;
        entry.1 = now + ttl;
        Ok(entry.0)
    }

    async fn queue_stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        let now = Instant::now();
        let st = self.lock();
        let mut stats = QueueStats {
            dead: st.dead.get(queue).map_or(0, VecDeque::len),
            paused: st.paused.contains(queue),
            ..QueueStats::default()
        };
        let mut oldest: Option<Instant> = None;
        for slot in st.tasks.values().filter(|s| s.env.queue == queue) {
            match slot.status {
                Status::Ready => {
                    stats.ready += 1;
                    oldest = Some(oldest.map_or(slot.ready_at, |o| o.min(slot.ready_at)));
                }
                Status::Delayed => stats.delayed += 1,
                Status::Leased { .. } => stats.running += 1,
            }
        }
        stats.oldest_ready = oldest.map(|o| timestamp_of(o, now));
        Ok(stats)
    }

    async fn publish_once(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, BackendError> {
        let now = Instant::now();
        let mut n = 0;
        {
            let mut st = self.lock();
            st.published.retain(|_, until| *until > now);
            for env in batch {
                if st.published.contains_key(&env.id) {
                    continue;
                }
                st.published.insert(env.id, now + ttl);
                st.insert(env, now);
                n += 1;
            }
        }
        if n > 0 {
            self.shared.wake_fetchers();
        }
        Ok(n)
    }

    async fn breaker_report(
        &self,
        queue: &str,
        key: &str,
        spec: &crate::flow::BreakerSpec,
        success: bool,
    ) -> Result<crate::flow::BreakerReport, BackendError> {
        let wall = Timestamp::now().0;
        Ok(self.lock().flow.report(queue, key, spec, success, wall))
    }

    async fn set_breaker(
        &self,
        queue: &str,
        key: &str,
        open_for: Option<Duration>,
    ) -> Result<(), BackendError> {
        let wall = Timestamp::now().0;
        self.lock().flow.set_breaker(queue, key, open_for, wall);
        self.shared.wake_fetchers();
        Ok(())
    }

    async fn breaker_state(
        &self,
        queue: &str,
        key: &str,
    ) -> Result<crate::flow::BreakerState, BackendError> {
        Ok(self
            .lock()
            .flow
            .breaker_state(queue, key, Timestamp::now().0))
    }

    async fn publish_unique(
        &self,
        env: Envelope,
        key: &str,
        ttl: Duration,
    ) -> Result<crate::unique::UniqueOutcome, BackendError> {
        self.publish_unique_now(env, key, ttl)
    }

    async fn join(
        &self,
        key: &str,
        slot: u32,
        total: u32,
        value: Payload,
        ttl: Duration,
    ) -> Result<Option<Vec<Payload>>, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        st.joins.retain(|_, (_, until)| *until > now);
        let total = total as usize;
        let (slots, until) = st
            .joins
            .entry(key.to_owned())
            .or_insert_with(|| (vec![None; total], now + ttl));
        if slots.len() < total {
            slots.resize(total, None);
        }
        if let Some(s) = slots.get_mut(slot as usize) {
            s.get_or_insert(value);
        }
        *until = now + ttl;
        if slots.iter().all(Option::is_some) {
            Ok(Some(slots.iter().flatten().cloned().collect()))
        } else {
            Ok(None)
        }
    }

    async fn resolve(
        &self,
        id: TaskId,
        outcome: Outcome,
        ttl: Option<Duration>,
        _reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        if st.live_result(&id, now).is_some() {
            return Ok(false);
        }
        st.finish(id, outcome, ttl, None, Finished::default(), now);
        Ok(true)
    }

    fn append_event(&self, event: Event) {
        self.shared.events.append(event);
    }

    async fn read_events(&self, read: EventRead<'_>) -> Result<Vec<StoredEvent>, BackendError> {
        Ok(self
            .shared
            .events
            .read_waiting(read.queues, read.after, read.max, read.wait)
            .await)
    }

    async fn events_now(&self, queues: &[String]) -> Result<EventCursor, BackendError> {
        Ok(self.shared.events.now(queues))
    }

    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<(), BackendError> {
        let until = Instant::now() + ttl;
        let mut st = self.lock();
        st.workers
            .insert(worker.id.clone(), (worker.clone(), until));
        Ok(())
    }

    async fn remove_worker(&self, id: &str) -> Result<(), BackendError> {
        self.lock().workers.remove(id);
        Ok(())
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        st.workers.retain(|_, (_, until)| *until > now);
        let mut out: Vec<WorkerInfo> = st.workers.values().map(|(w, _)| w.clone()).collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn queues(&self) -> Result<Vec<String>, BackendError> {
        let st = self.lock();
        let mut names: Vec<String> = st
            .queues
            .keys()
            .chain(st.dead.keys())
            .chain(st.paused.iter())
            .cloned()
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    async fn list_tasks(
        &self,
        queue: &str,
        state: ListState,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        let offset = inspect::offset(cursor)?;
        let now = Instant::now();
        let mut st = self.lock();
        st.workers.retain(|_, (_, until)| *until > now);
        Ok(st.list(queue, state, offset, limit, now))
    }

    async fn inspect(&self, id: TaskId) -> Result<Option<TaskDetail>, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        st.workers.retain(|_, (_, until)| *until > now);
        Ok(st.detail(id, now))
    }

    async fn purge_queue(&self, queue: &str) -> Result<usize, BackendError> {
        let now = Instant::now();
        let mut st = self.lock();
        let waiting: Vec<TaskId> = st
            .tasks
            .iter()
            .filter(|(_, s)| {
                s.env.queue == queue && matches!(s.status, Status::Ready | Status::Delayed)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &waiting {
            if let Some(slot) = st.tasks.remove(id) {
                let ttl = slot.env.result_ttl();
                let failure = TaskFailure::new(FailureKind::Cancelled, "purged from its queue");
                let about = Finished::of(&slot.env);
                st.finish(
                    *id,
                    Outcome::Failure(failure),
                    ttl,
                    slot.progress,
                    about,
                    now,
                );
            }
        }
        // The heaps' entries of the removed slots are skipped as stale when they come up.
        Ok(waiting.len())
    }

    async fn put_schedule(&self, spec: &ScheduleSpec) -> Result<bool, BackendError> {
        Ok(self.lock().schedules.put(spec))
    }

    async fn schedules(&self) -> Result<Vec<StoredSchedule>, BackendError> {
        Ok(self.lock().schedules.list())
    }

    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, BackendError> {
        Ok(self.lock().schedules.get(id))
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool, BackendError> {
        Ok(self.lock().schedules.delete(id))
    }

    async fn set_schedule_paused(&self, id: &str, paused: bool) -> Result<bool, BackendError> {
        Ok(self.lock().schedules.set_paused(id, paused))
    }

    async fn claim_tick(&self, claim: &TickClaim) -> Result<TickOutcome, BackendError> {
        let (outcome, sent) = schedules::claim(&mut self.lock(), claim, Instant::now());
        if sent {
            self.shared.wake_fetchers();
        }
        Ok(outcome)
    }

    async fn release_buffered(&self, id: &str) -> Result<Option<TaskId>, BackendError> {
        let sent = schedules::release(&mut self.lock(), id, Instant::now());
        if sent.is_some() {
            self.shared.wake_fetchers();
        }
        Ok(sent)
    }

    async fn pause_queue(&self, queue: &str) -> Result<(), BackendError> {
        self.lock().paused.insert(queue.to_owned());
        Ok(())
    }

    async fn resume_queue(&self, queue: &str) -> Result<(), BackendError> {
        let was = self.lock().paused.remove(queue);
        if was {
            self.shared.wake_fetchers();
        }
        Ok(())
    }
}
