//! The backend trait every queue implements, the registry of URL schemes, and the in-memory
//! backend.
//!
//! A backend stores messages and results. It never runs tasks: workers do, through this trait.
//!
//! ```text
//!  producer ──publish──► [ready by priority] ◄──promote── [delayed by due time]
//!                               │ fetch (atomic: ready → leased, attempt += 1)
//!                               ▼
//!                          [leased until deadline] ──expired──► back to ready
//!                            │      │        │
//!                  complete  │ retry│        │ dead_letter
//!                            ▼      ▼        ▼
//!                       [results]  [delayed] [dead letters]
//! ```
//!
//! Every backend runs the conformance suite in `taskq::conformance` (feature `test-util`), so
//! they all behave the same.

mod inspect;
pub mod memory;

pub use inspect::{
    DeadSelection, ListState, Page, RunningTask, TaskDetail, TaskSummary, UnknownListState,
    WorkerInfo,
};

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;

use crate::error::{BackendError, ConfigError, Error};
use crate::events::{Event, EventCursor, EventRead, StoredEvent};
use crate::message::{
    DeadLetter, DeadLetterReason, Delivery, Envelope, Lease, Outcome, Payload, TaskFailure, TaskId,
    Timestamp,
};
use crate::schedule::{ScheduleSpec, StoredSchedule, TickClaim, TickOutcome};
use crate::state::TaskRecord;

/// What a worker asks for when it fetches.
#[derive(Clone, Copy, Debug)]
pub struct FetchRequest<'a> {
    /// The queues to take from; the highest priority across them goes first.
    pub queues: &'a [String],
    /// At most this many tasks (the worker's free slots).
    pub max: usize,
    /// The lease to put them under: if the worker neither completes nor extends it within this
    /// time, the task goes back to the queue.
    pub lease: Duration,
    /// How long to wait for a first task when none is ready (an empty answer after that).
    pub wait: Duration,
}

/// A finished attempt to record.
#[derive(Clone, Debug)]
pub struct Completion {
    /// The lease it ran under.
    pub lease: Lease,
    /// How it ended.
    pub outcome: Outcome,
    /// How long to keep the result; `None` keeps none (but waiters are still told).
    pub result_ttl: Option<Duration>,
    /// Where to announce it (the envelope's `reply_to`).
    pub reply_to: Option<String>,
    /// The task's name, kept with the result so that [`Backend::inspect`] can tell it after the
    /// message is gone.
    pub task: Option<Cow<'static, str>>,
    /// When the attempt started, kept with the result.
    pub started_at: Option<Timestamp>,
    /// The task's arguments, kept with the result so that [`Backend::inspect`] shows them once
    /// the message is gone; `None` keeps none. The worker sends them when they are at most
    /// [`KEPT_ARGS_MAX`] bytes of JSON.
    pub args: Option<Payload>,
}

/// The largest arguments (bytes of JSON) a worker keeps with a task's result: enough for
/// every ordinary call, and a bound on what a day of results can cost a backend's memory.
pub const KEPT_ARGS_MAX: usize = 16 * 1024;

/// What [`Backend::cancel`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// The task was queued or delayed; it is removed and marked cancelled.
    Removed,
    /// The task is running; its worker will be told at its next lease extension.
    Signalled,
    /// The task is unknown or already finished.
    NotFound,
}

/// What [`Backend::extend`] says of one lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseStatus {
    /// Extended.
    Held,
    /// The task was revoked while running: stop it.
    Cancelled,
    /// The lease is gone (it expired and the task was redelivered, or it finished elsewhere):
    /// stop it, and write nothing.
    Lost,
}

/// Counts of a queue's messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Ready to run.
    pub ready: usize,
    /// Waiting for their time (countdown, eta, retry backoff).
    pub delayed: usize,
    /// Leased by workers.
    pub running: usize,
    /// In the dead-letter queue.
    pub dead: usize,
    /// Whether the queue is paused (workers fetch nothing from it).
    pub paused: bool,
    /// When the oldest ready task became ready (enqueued, or due): how long the queue's head
    /// has waited, the signal to scale workers on. `None` when nothing is ready.
    pub oldest_ready: Option<Timestamp>,
}

/// A queue backend: messages, leases, results, dead letters and counters.
///
/// All methods that change a task's state take its [`Lease`], and do nothing (returning
/// `false` or [`LeaseStatus::Lost`]) when the lease is no longer the current one: that is what
/// keeps a worker whose lease expired from overwriting a newer delivery.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The backend's name, for logs (`memory`, `redis`).
    fn name(&self) -> &'static str;

    /// How long a busy worker may wait to gather a larger batch into one `fetch` or `complete`
    /// call. Zero (the default) for an in-process backend, where a call costs next to nothing;
    /// a network backend whose server pays per call returns a few hundred microseconds. Idle
    /// workers never wait: it applies only while every fetch comes back full.
    fn batch_linger(&self) -> Duration {
        Duration::ZERO
    }

    /// Stores messages: ready ones in their queue by priority, ones with a future `eta` as
    /// delayed.
    async fn publish(&self, batch: Vec<Envelope>) -> Result<(), BackendError>;

    /// Takes up to `max` ready tasks from `queues` under a lease, waiting up to `wait` for the
    /// first. Promotes delayed tasks that are due, takes back expired leases, and fails
    /// (without running) messages whose `expires` has passed. Each delivery's `attempt` is one
    /// more than before.
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<Vec<Delivery>, BackendError>;

    /// Records finished attempts: stores each result (if it has a TTL), wakes whoever waits for
    /// it, and drops the message. Returns, for each, whether its lease was still current (a
    /// stale completion writes nothing). Borrowed: a worker keeps the batch to try again if
    /// the call fails.
    async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, BackendError>;

    /// Puts a leased task back as delayed until `delay` from now, keeping its attempt count.
    /// Returns whether the lease was current.
    async fn retry(
        &self,
        lease: &Lease,
        delay: Duration,
        failure: &TaskFailure,
    ) -> Result<bool, BackendError>;

    /// Hands leased tasks back, ready at once, without counting the attempt (a worker shutting
    /// down). Stale leases are ignored.
    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError>;

    /// Moves a leased task to the dead-letter queue with `reason`, and stores a failed result
    /// ([`FailureKind::Rejected`](crate::FailureKind::Rejected) for poison messages, the last
    /// failure for exhausted attempts) so waiters learn of it. Returns whether the lease was
    /// current.
    async fn dead_letter(
        &self,
        lease: &Lease,
        reason: DeadLetterReason,
        failure: &TaskFailure,
        result_ttl: Option<Duration>,
        reply_to: Option<String>,
    ) -> Result<bool, BackendError>;

    /// Extends leases by `by` from now; says for each whether it is still held, was cancelled,
    /// or is lost.
    async fn extend(
        &self,
        leases: &[Lease],
        by: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError>;

    /// Revokes a task: removes it if queued or delayed (storing a cancelled result), flags it if
    /// running.
    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, BackendError>;

    /// What is known of a task: state, outcome, progress. `None` if nothing is.
    async fn record(&self, id: TaskId) -> Result<Option<TaskRecord>, BackendError>;

    /// Waits up to `timeout` (forever if `None`) for the task's outcome. Woken by the completion
    /// itself, never by polling. `Ok(None)` on timeout.
    async fn wait_result(
        &self,
        id: TaskId,
        timeout: Option<Duration>,
    ) -> Result<Option<Outcome>, BackendError>;

    /// Stores a running task's progress report.
    async fn set_progress(&self, lease: &Lease, progress: Payload) -> Result<(), BackendError>;

    /// Up to `limit` dead letters of `queue`, oldest first.
    async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BackendError>;

    /// Puts up to `limit` selected dead letters of `queue` (oldest first) back as ready with a
    /// fresh attempt count. Returns how many. Malformed messages cannot be requeued and stay.
    /// A caller moving many calls it again until it answers less than `limit`.
    async fn requeue_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError>;

    /// Deletes up to `limit` selected dead letters of `queue` (oldest first). Returns how many.
    async fn purge_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError>;

    /// Adds `by` to the counter `key` and returns the new value; the counter disappears `ttl`
    /// after its last change. Workflows use it to know when every member of a group finished.
    async fn incr_counter(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, BackendError>;

    /// Counts of `queue`'s messages.
    async fn queue_stats(&self, queue: &str) -> Result<QueueStats, BackendError>;

    /// Publishes each message unless a message with the same id went through `publish_once`
    /// within the last `ttl`. Returns how many were published. Workflows publish each step
    /// through it, with ids fixed when the workflow starts, so a step that runs twice (its
    /// worker died after publishing its successors) never starts them twice.
    ///
    /// The default answers [`BackendError::Unsupported`]: a backend without it cannot run
    /// workflows.
    async fn publish_once(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, BackendError> {
        let _ = (batch, ttl);
        Err(BackendError::Unsupported {
            backend: self.name(),
            what: "publish_once (workflows)",
        })
    }

    /// Records `value` in slot `slot` of the join `key` unless that slot has a value already
    /// (the first write wins), and returns all `total` values in slot order once every slot has
    /// one, `None` before. The join expires `ttl` after its last write. Chords and DAG fan-in
    /// wait on it: whoever completes the last slot starts the next step.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn join(
        &self,
        key: &str,
        slot: u32,
        total: u32,
        value: Payload,
        ttl: Duration,
    ) -> Result<Option<Vec<Payload>>, BackendError> {
        let _ = (key, slot, total, value, ttl);
        Err(BackendError::Unsupported {
            backend: self.name(),
            what: "join (workflows)",
        })
    }

    /// Stores `outcome` as the result of `id` unless it already has one, and wakes its waiters.
    /// Returns whether it was stored. A workflow's result is resolved this way when a step
    /// fails or the workflow is revoked before its last step exists.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn resolve(
        &self,
        id: TaskId,
        outcome: Outcome,
        ttl: Option<Duration>,
        reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        let _ = (id, outcome, ttl, reply_to);
        Err(BackendError::Unsupported {
            backend: self.name(),
            what: "resolve (workflows)",
        })
    }

    // --- circuit breakers (see crate::flow) -------------------------------------------------

    /// Records how an attempt of a task with a circuit breaker ended (`success`), under the
    /// breaker `key` of `queue`, and returns the breaker's state before and after it, read in
    /// the same atomic step: enough failures within the window open it; a half-open breaker
    /// closes on a success and opens again on a failure. The fetch then starts no task of an
    /// open breaker until its cooldown ends. The worker sends a `breaker_opened` or
    /// `breaker_closed` event for the report that changed the state.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn breaker_report(
        &self,
        queue: &str,
        key: &str,
        spec: &crate::flow::BreakerSpec,
        success: bool,
    ) -> Result<crate::flow::BreakerReport, BackendError> {
        let _ = (queue, key, spec, success);
        Err(self.unsupported("circuit breakers"))
    }

    /// Forces a breaker open for `open_for`, or closed (`None`), fleet-wide.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn set_breaker(
        &self,
        queue: &str,
        key: &str,
        open_for: Option<Duration>,
    ) -> Result<(), BackendError> {
        let _ = (queue, key, open_for);
        Err(self.unsupported("circuit breakers"))
    }

    /// A breaker's state (closed when it never opened).
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn breaker_state(
        &self,
        queue: &str,
        key: &str,
    ) -> Result<crate::flow::BreakerState, BackendError> {
        let _ = (queue, key);
        Err(self.unsupported("circuit breakers"))
    }

    // --- unique tasks -----------------------------------------------------------------------

    /// Publishes `env` holding the unique key `key` of its queue, unless a live task of that
    /// queue holds it: then publishes nothing and answers that task's id. In one atomic step,
    /// so of many concurrent calls with one key exactly one publishes. The key is held until
    /// the task's end (success, dead letter, revocation, purge, expiry), released in the same
    /// atomic step as that end, and at most `ttl` from the later of now and the task's `eta`
    /// (a safety net). A key whose holder is gone (without a release) counts as free. See
    /// [`crate::unique`].
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn publish_unique(
        &self,
        env: Envelope,
        key: &str,
        ttl: Duration,
    ) -> Result<crate::unique::UniqueOutcome, BackendError> {
        let _ = (env, key, ttl);
        Err(self.unsupported("publish_unique (unique tasks)"))
    }

    // --- the event log --------------------------------------------------------------------

    /// Adds an event to the backend's log of the event's queue. It does not wait: a network
    /// backend keeps it and writes it with its next write (the transition it belongs to, when
    /// that comes right after), or within a few milliseconds when nothing else is written, so
    /// events cost no round trip of their own. The log is capped; a backend without one drops
    /// it (the default).
    fn append_event(&self, event: Event) {
        let _ = event;
    }

    /// Up to `read.max` events of `read.queues` after `read.after`, oldest first within each
    /// queue, waiting up to `read.wait` for a first one. Woken by the write, never by polling
    /// a timer. A queue the cursor has no position for is read from its oldest retained event.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn read_events(&self, read: EventRead<'_>) -> Result<Vec<StoredEvent>, BackendError> {
        let _ = read;
        Err(self.unsupported("read_events (event log)"))
    }

    /// A cursor at the end of the logs of `queues`: reading from it gives only events written
    /// after now (`taskq events --follow`).
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn events_now(&self, queues: &[String]) -> Result<EventCursor, BackendError> {
        let _ = queues;
        Err(self.unsupported("events_now (event log)"))
    }

    // --- workers ---------------------------------------------------------------------------

    /// Registers or refreshes a live worker; it disappears from [`Backend::workers`] `ttl`
    /// after its last heartbeat.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<(), BackendError> {
        let _ = (worker, ttl);
        Err(self.unsupported("heartbeat (worker registry)"))
    }

    /// Removes a worker at once (a warm shutdown).
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn remove_worker(&self, id: &str) -> Result<(), BackendError> {
        let _ = id;
        Err(self.unsupported("remove_worker (worker registry)"))
    }

    /// The live workers, by id.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        Err(self.unsupported("workers (worker registry)"))
    }

    // --- inspection -------------------------------------------------------------------------

    /// Every queue the backend has seen, sorted.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn queues(&self) -> Result<Vec<String>, BackendError> {
        Err(self.unsupported("queues (inspection)"))
    }

    /// One page of `queue`'s messages in `state`, from `cursor` (the `next` of the previous
    /// page; `None` for the first), at most `limit`.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn list_tasks(
        &self,
        queue: &str,
        state: ListState,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        let _ = (queue, state, cursor, limit);
        Err(self.unsupported("list_tasks (inspection)"))
    }

    /// Everything known of task `id`; `None` if nothing is.
    ///
    /// The default builds it from [`Backend::record`] alone.
    async fn inspect(&self, id: TaskId) -> Result<Option<TaskDetail>, BackendError> {
        Ok(self.record(id).await?.map(|r| {
            let mut d = TaskDetail::new(id, r.state);
            d.outcome = r.outcome;
            d.progress = r.progress;
            d
        }))
    }

    /// Deletes `queue`'s messages that wait (ready and scheduled), storing a cancelled result
    /// for each; running tasks and dead letters stay. Returns how many.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn purge_queue(&self, queue: &str) -> Result<usize, BackendError> {
        let _ = queue;
        Err(self.unsupported("purge_queue (inspection)"))
    }

    /// Pauses `queue` for every worker: fetches take nothing from it until it is resumed;
    /// nothing in it is lost, and running tasks go on.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn pause_queue(&self, queue: &str) -> Result<(), BackendError> {
        let _ = queue;
        Err(self.unsupported("pause_queue"))
    }

    /// Resumes a paused queue, waking the workers that wait on it.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn resume_queue(&self, queue: &str) -> Result<(), BackendError> {
        let _ = queue;
        Err(self.unsupported("resume_queue"))
    }

    // --- schedules -------------------------------------------------------------------------

    /// Stores a schedule, or replaces its spec (keeping its state: last tick, pause, counts).
    /// Idempotent, so every replica can register the schedules its code declares at boot.
    /// Returns whether the schedule was new.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn put_schedule(&self, spec: &ScheduleSpec) -> Result<bool, BackendError> {
        let _ = spec;
        Err(self.unsupported("put_schedule (schedules)"))
    }

    /// Every stored schedule with its state, by id.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn schedules(&self) -> Result<Vec<StoredSchedule>, BackendError> {
        Err(self.unsupported("schedules (schedules)"))
    }

    /// One stored schedule with its state; `None` if there is none.
    ///
    /// The default looks through [`Backend::schedules`].
    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, BackendError> {
        Ok(self
            .schedules()
            .await?
            .into_iter()
            .find(|s| s.spec.id == id))
    }

    /// Deletes a schedule and its state (its sent tasks stay). Returns whether it existed.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn delete_schedule(&self, id: &str) -> Result<bool, BackendError> {
        let _ = id;
        Err(self.unsupported("delete_schedule (schedules)"))
    }

    /// Pauses or resumes a schedule: while paused, its ticks are claimed and recorded as
    /// skipped (reason `paused`), so resuming runs none of them. Returns whether it exists.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn set_schedule_paused(&self, id: &str, paused: bool) -> Result<bool, BackendError> {
        let _ = (id, paused);
        Err(self.unsupported("set_schedule_paused (schedules)"))
    }

    /// Claims a tick, in one atomic step: only if its nominal instant is later than the last
    /// claimed one, it records it (with `claim.missed` catch-up skips), applies the overlap
    /// policy against the previous run (still queued, delayed or running: skip, keep one, or
    /// run anyway), and publishes `claim.envelope` (whose id is derived from the tick). Any
    /// number of schedulers may claim the same tick; one wins.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn claim_tick(&self, claim: &TickClaim) -> Result<TickOutcome, BackendError> {
        let _ = claim;
        Err(self.unsupported("claim_tick (schedules)"))
    }

    /// Sends the tick kept by [`Overlap::BufferOne`](crate::schedule::Overlap::BufferOne) if
    /// the previous run has finished, atomically. Returns the sent task's id.
    ///
    /// The default answers [`BackendError::Unsupported`].
    async fn release_buffered(&self, id: &str) -> Result<Option<TaskId>, BackendError> {
        let _ = id;
        Err(self.unsupported("release_buffered (schedules)"))
    }

    #[doc(hidden)]
    fn unsupported(&self, what: &'static str) -> BackendError {
        BackendError::Unsupported {
            backend: self.name(),
            what,
        }
    }
}

/// What a [`BackendFactory`] returns: the connected backend, once connected.
pub type Connecting = BoxFuture<'static, Result<Arc<dyn Backend>, BackendError>>;

/// A way to build a backend from a URL, registered at link time by the crate that provides it.
///
/// `taskq` registers `memory://`; `taskq-redis` registers `redis://` and `rediss://`. A backend
/// crate registers its own with `taskq::__private::link_submit!` (see [`crate::link`]), which
/// uses `inventory` or `linkme` as `taskq` was built.
#[derive(Debug)]
pub struct BackendFactory {
    /// The URL scheme, without `://`.
    pub scheme: &'static str,
    /// Connects.
    pub connect: fn(&str) -> Connecting,
}

crate::__link_submit! {
    krate = [crate],
    slice = BACKENDS,
    ty = BackendFactory,
    entry = BackendFactory {
        scheme: "memory",
        connect: |_url| Box::pin(async { Ok(Arc::new(memory::MemoryBackend::new()) as Arc<dyn Backend>) }),
    },
}

/// Builds the backend a URL names: `memory://`, or any scheme a linked backend crate registers
/// (`redis://host:6379/0` with `taskq-redis`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// let backend = taskq::backend::connect("memory://").await?;
/// assert_eq!(backend.name(), "memory");
/// assert!(taskq::backend::connect("nope://x").await.is_err());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`ConfigError::UnknownScheme`] when no linked crate handles the scheme; the backend's own
/// error when it cannot connect.
pub async fn connect(url: &str) -> Result<Arc<dyn Backend>, Error> {
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or(url);
    for factory in crate::link::backends() {
        if factory.scheme.eq_ignore_ascii_case(scheme) {
            return Ok((factory.connect)(url).await?);
        }
    }
    let mut known: Vec<&str> = crate::link::schemes().collect();
    known.sort_unstable();
    Err(ConfigError::UnknownScheme {
        url: url.to_owned(),
        scheme: scheme.to_owned(),
        known: known
            .iter()
            .map(|s| format!("`{s}://`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
    .into())
}
