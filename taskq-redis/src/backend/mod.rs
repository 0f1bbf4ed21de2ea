//! [`RedisBackend`]: the [`Backend`] trait on Redis.
//!
//! This file holds the backend's state and the trait, each method handing over to the file of
//! its transition (as the Lua scripts in `src/lua/` are split):
//!
//! ```text
//!  connect.rs    the builder: URL, key prefix, reconnection patience
//!  publish.rs    publish: one pipelined MULTI per batch, concurrent publishes coalesced
//!  fetch.rs      the fetch loop: fetch.lua leases ids, HMGET reads them, BLPOP waits
//!  complete.rs   complete: complete_fast.lua per batch, complete.lua item by item
//!  lease.rs      the other fenced changes of a running task: retry, release, dead letter,
//!                extend, progress
//!  cancel.rs     revoke
//!  results.rs    a task's record, waiting for its outcome
//!  dead.rs       dead letters: list, requeue, purge
//!  workflow.rs   publish once, joins, resolve, counters
//!  inspect.rs    the queues, a queue's tasks by state, one task's full record
//!  purge.rs      purge a queue's waiting messages
//!  pause.rs      pause and resume a queue fleet-wide
//!  schedules.rs  periodic schedules: specs, states, the atomic tick claim
//!  stats.rs      counts per queue
//!  events.rs     the event log: buffered events ride with the next write; reading, following
//!  event_lines.rs  how events are written in a stream entry
//!  workers.rs    the worker registry: heartbeats, the live workers
//!  lookup.rs     finding a task's queue by its id
//!  values.rs     values as the scripts take and give them
//! ```

mod cancel;
mod complete;
mod connect;
mod dead;
mod event_lines;
mod events;
mod fetch;
mod flow;
mod inspect;
mod lease;
mod lookup;
mod pause;
mod publish;
mod purge;
mod results;
mod schedules;
mod stats;
mod unique;
mod values;
mod workers;
mod workflow;

pub use connect::RedisBackendBuilder;

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, ScriptInvocation};
use taskq::backend::{
    Backend, CancelOutcome, Completion, DeadSelection, FetchRequest, LeaseStatus, ListState, Page,
    QueueStats, TaskDetail, TaskSummary, WorkerInfo,
};
use taskq::events::{Event, EventCursor, EventRead, StoredEvent};
use taskq::schedule::{ScheduleSpec, StoredSchedule, TickClaim, TickOutcome};
use taskq::{
    BackendError, DeadLetter, DeadLetterReason, Delivery, Envelope, Lease, Outcome, Payload,
    TaskFailure, TaskId, TaskRecord,
};
use tokio::time::Instant;

use crate::conn::{self, BACKEND};
use crate::keys::QueueKeys;
use crate::notify::Notifier;

use events::EventBuffer;
use lookup::IdCache;
use publish::PublishQueue;

/// The key prefix unless configured: keys look like `{taskq:emails}:env`.
pub const DEFAULT_PREFIX: &str = "taskq";

/// How long commands keep retrying through a connection loss unless configured.
pub const DEFAULT_RECONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Entries a queue's event stream keeps unless configured (each the events of one write, up to
/// 32).
pub const DEFAULT_EVENT_LOG_ENTRIES: usize = 10_000;

/// Most items per script call (Lua's `unpack` has a limit of about 8,000 values).
const CHUNK: usize = 500;

/// The Redis backend.
///
/// Cheap to clone: clones share the connections. See the [crate documentation](crate) for the
/// key layout and the guarantees.
///
/// ```no_run
/// # async fn demo() -> Result<(), taskq::Error> {
/// use std::sync::Arc;
/// let backend = taskq_redis::RedisBackend::builder("redis://127.0.0.1:6379/0")
///     .prefix("myapp")
///     .connect()
///     .await?;
/// let client = taskq::Client::new(Arc::new(backend));
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &self.inner.shared.url)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

struct Inner {
    client: redis::Client,
    shared: conn::Shared,
    prefix: String,
    blocking: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    notifier: Arc<Notifier>,
    known_queues: Mutex<HashSet<String>>,
    ids: Mutex<IdCache>,
    publisher: Mutex<PublishQueue>,
    timers_checked: Mutex<Option<Instant>>,
    events: Mutex<EventBuffer>,
    /// How many events wait in `events` (read without the lock on every write).
    buffered: AtomicUsize,
    /// Entries each queue's event stream keeps (`XADD .. MAXLEN ~`).
    event_cap: usize,
    /// Held while a write that carries events takes them and is handed to the connection.
    send_gate: Mutex<()>,
    /// Idle connections for blocking event reads.
    event_readers: Mutex<Vec<MultiplexedConnection>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn keys(&self, queue: &str) -> QueueKeys {
        QueueKeys::new(&self.prefix, queue)
    }

    async fn eval<T: FromRedisValue>(&self, inv: &ScriptInvocation<'_>) -> Result<T, BackendError> {
        self.shared
            .run(move |mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }

    async fn query<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, BackendError> {
        self.shared
            .run(move |mut c| async move { pipe.query_async(&mut c).await })
            .await
    }

    async fn command<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, BackendError> {
        self.shared
            .run(move |mut c| async move { cmd.query_async(&mut c).await })
            .await
    }
}

#[async_trait]
impl Backend for RedisBackend {
    /// Every script call has a fixed cost on the server, far above a command's: a busy worker
    /// gathers for up to half a millisecond to pay it once for many tasks.
    fn batch_linger(&self) -> Duration {
        Duration::from_micros(500)
    }

    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn publish(&self, batch: Vec<Envelope>) -> Result<(), BackendError> {
        self.inner.publish(batch).await
    }

    async fn fetch(&self, req: FetchRequest<'_>) -> Result<Vec<Delivery>, BackendError> {
        self.inner.fetch(req).await
    }

    async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, BackendError> {
        self.inner.complete(batch).await
    }

    async fn retry(
        &self,
        lease: &Lease,
        delay: Duration,
        _failure: &TaskFailure,
    ) -> Result<bool, BackendError> {
        self.inner.retry(lease, delay).await
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        self.inner.release(leases).await
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        reason: DeadLetterReason,
        failure: &TaskFailure,
        result_ttl: Option<Duration>,
        reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        self.inner
            .dead_letter(lease, reason, failure, result_ttl, reply_to)
            .await
    }

    async fn extend(
        &self,
        leases: &[Lease],
        by: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        self.inner.extend(leases, by).await
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, BackendError> {
        self.inner.cancel(id).await
    }

    async fn record(&self, id: TaskId) -> Result<Option<TaskRecord>, BackendError> {
        self.inner.record(id).await
    }

    async fn wait_result(
        &self,
        id: TaskId,
        timeout: Option<Duration>,
    ) -> Result<Option<Outcome>, BackendError> {
        self.inner.wait_result(id, timeout).await
    }

    async fn set_progress(&self, lease: &Lease, progress: Payload) -> Result<(), BackendError> {
        self.inner.set_progress(lease, progress).await
    }

    async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BackendError> {
        self.inner.dead_letters(queue, limit).await
    }

    async fn requeue_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        self.inner.requeue_dead(queue, select, limit).await
    }

    async fn purge_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        self.inner.purge_dead(queue, select, limit).await
    }

    async fn incr_counter(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, BackendError> {
        self.inner.incr_counter(key, by, ttl).await
    }

    async fn publish_once(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, BackendError> {
        self.inner.publish_once(batch, ttl).await
    }

    async fn breaker_report(
        &self,
        queue: &str,
        key: &str,
        spec: &taskq::flow::BreakerSpec,
        success: bool,
    ) -> Result<taskq::flow::BreakerReport, BackendError> {
        self.inner.breaker_report(queue, key, spec, success).await
    }

    async fn set_breaker(
        &self,
        queue: &str,
        key: &str,
        open_for: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.inner.set_breaker(queue, key, open_for).await
    }

    async fn breaker_state(
        &self,
        queue: &str,
        key: &str,
    ) -> Result<taskq::flow::BreakerState, BackendError> {
        self.inner.breaker_state(queue, key).await
    }

    async fn publish_unique(
        &self,
        env: Envelope,
        key: &str,
        ttl: Duration,
    ) -> Result<taskq::unique::UniqueOutcome, BackendError> {
        self.inner.publish_unique(env, key, ttl).await
    }

    async fn join(
        &self,
        key: &str,
        slot: u32,
        total: u32,
        value: Payload,
        ttl: Duration,
    ) -> Result<Option<Vec<Payload>>, BackendError> {
        self.inner.join(key, slot, total, value, ttl).await
    }

    async fn resolve(
        &self,
        id: TaskId,
        outcome: Outcome,
        ttl: Option<Duration>,
        reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        self.inner.resolve(id, outcome, ttl, reply_to).await
    }

    async fn queue_stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        self.inner.queue_stats(queue).await
    }

    async fn pause_queue(&self, queue: &str) -> Result<(), BackendError> {
        self.inner.pause_queue(queue).await
    }

    async fn resume_queue(&self, queue: &str) -> Result<(), BackendError> {
        self.inner.resume_queue(queue).await
    }

    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<(), BackendError> {
        self.inner.heartbeat(worker, ttl).await
    }

    async fn remove_worker(&self, id: &str) -> Result<(), BackendError> {
        self.inner.remove_worker(id).await
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        self.inner.workers().await
    }

    async fn queues(&self) -> Result<Vec<String>, BackendError> {
        self.inner.queues().await
    }

    async fn list_tasks(
        &self,
        queue: &str,
        state: ListState,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        self.inner.list_tasks(queue, state, cursor, limit).await
    }

    async fn inspect(&self, id: TaskId) -> Result<Option<TaskDetail>, BackendError> {
        self.inner.inspect(id).await
    }

    async fn purge_queue(&self, queue: &str) -> Result<usize, BackendError> {
        self.inner.purge_queue(queue).await
    }

    async fn put_schedule(&self, spec: &ScheduleSpec) -> Result<bool, BackendError> {
        self.inner.put_schedule(spec).await
    }

    async fn schedules(&self) -> Result<Vec<StoredSchedule>, BackendError> {
        self.inner.schedules().await
    }

    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, BackendError> {
        self.inner.schedule(id).await
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool, BackendError> {
        self.inner.delete_schedule(id).await
    }

    async fn set_schedule_paused(&self, id: &str, paused: bool) -> Result<bool, BackendError> {
        self.inner.set_schedule_paused(id, paused).await
    }

    async fn claim_tick(&self, claim: &TickClaim) -> Result<TickOutcome, BackendError> {
        self.inner.claim_tick(claim).await
    }

    async fn release_buffered(&self, id: &str) -> Result<Option<TaskId>, BackendError> {
        self.inner.release_buffered(id).await
    }

    fn append_event(&self, event: Event) {
        self.inner.append_event(event);
    }

    async fn read_events(&self, read: EventRead<'_>) -> Result<Vec<StoredEvent>, BackendError> {
        self.inner.read_events(read).await
    }

    async fn events_now(&self, queues: &[String]) -> Result<EventCursor, BackendError> {
        self.inner.events_now(queues).await
    }
}
