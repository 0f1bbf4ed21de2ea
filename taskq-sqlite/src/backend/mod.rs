//! The [`Backend`] implementation: each method is one line here, its transition in the file
//! named after it, with its SQL in the `.sql` file of the same name beside it.

mod dead;
mod events;
mod fetch;
mod flow;
mod inspect;
mod lease;
mod publish;
mod queues;
mod results;
mod retention;
mod rows;
mod schedules;
mod values;
mod workers;
mod workflow;

pub use events::EVENTS_PER_QUEUE;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use taskq::backend::{
    Backend, CancelOutcome, Completion, DeadSelection, FetchRequest, LeaseStatus, ListState, Page,
    QueueStats, TaskDetail, TaskSummary, WorkerInfo,
};
use taskq::events::{Event, EventCursor, EventRead, StoredEvent};
use taskq::flow::{BreakerReport, BreakerSpec, BreakerState};
use taskq::schedule::{ScheduleSpec, StoredSchedule, TickClaim, TickOutcome};
use taskq::unique::UniqueOutcome;
use taskq::{
    BackendError, DeadLetter, DeadLetterReason, Delivery, Envelope, Lease, Outcome, Payload,
    TaskFailure, TaskId, TaskRecord,
};

use crate::config::SqliteConfig;
use crate::error::{StoreError, NAME};
use crate::writer::Db;

/// The SQLite backend. Cheap to clone: clones share the file's writer thread and readers.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::BackendError> {
/// let backend = taskq_sqlite::SqliteBackend::connect("sqlite:///var/lib/app/tasks.db").await?;
/// let client = taskq::Client::new(std::sync::Arc::new(backend));
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SqliteBackend {
    pub(crate) db: Arc<Db>,
    url: Arc<str>,
    /// Events appended by this handle (every so many, the queue's log is trimmed).
    appended: Arc<AtomicU64>,
}

/// A task that ended in a write, and how: handed to this process's waiters after the commit.
pub(crate) type Ended = (TaskId, Outcome);

impl SqliteBackend {
    /// Opens the database a `sqlite://` URL names (see [`SqliteConfig::from_url`]), creating
    /// the file and its schema if needed.
    ///
    /// # Errors
    /// [`BackendError::InvalidUrl`] for a URL that does not parse;
    /// [`BackendError::Unavailable`] naming the URL when the file cannot be opened, a pragma
    /// does not take effect, or the schema is newer than this build.
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        let config = SqliteConfig::from_url(url).map_err(|e| BackendError::InvalidUrl {
            backend: NAME,
            url: url.to_owned(),
            detail: e.to_string(),
        })?;
        Self::open_as(config, url).await
    }

    /// Opens the database `config` describes.
    ///
    /// # Errors
    /// As [`SqliteBackend::connect`].
    pub async fn open(config: SqliteConfig) -> Result<Self, BackendError> {
        let url = format!("sqlite://{}", config.path.display());
        Self::open_as(config, &url).await
    }

    async fn open_as(config: SqliteConfig, url: &str) -> Result<Self, BackendError> {
        let opened = tokio::task::spawn_blocking(move || Db::open(config))
            .await
            .map_err(|e| BackendError::Unavailable {
                backend: NAME,
                url: url.to_owned(),
                source: Box::new(e),
            })?;
        let db = opened.map_err(|e| e.into_backend(url))?;
        Ok(Self {
            db: Arc::new(db),
            url: url.into(),
            appended: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &SqliteConfig {
        self.db.config()
    }

    /// This backend's error for a store error.
    pub(crate) fn err(&self, e: StoreError) -> BackendError {
        e.into_backend(&self.url)
    }

    /// After a commit that ended tasks: their waiters in this process get the outcomes, and
    /// fetchers look again (a freed permit may have made a waiter ready).
    pub(crate) fn ended(&self, ended: &[Ended]) {
        if ended.is_empty() {
            return;
        }
        if self.db.wake.has_waiters() {
            for (id, outcome) in ended {
                self.db.wake.finished(*id, outcome);
            }
        }
        self.db.wake.fetchers();
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn batch_linger(&self) -> Duration {
        // Writes of one process share transactions anyway (group commit): no need to wait.
        Duration::ZERO
    }

    async fn publish(&self, batch: Vec<Envelope>) -> Result<(), BackendError> {
        self.publish_now(batch).await.map_err(|e| self.err(e))
    }

    async fn fetch(&self, request: FetchRequest<'_>) -> Result<Vec<Delivery>, BackendError> {
        self.fetch_now(request).await.map_err(|e| self.err(e))
    }

    async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, BackendError> {
        self.complete_now(batch).await.map_err(|e| self.err(e))
    }

    async fn retry(
        &self,
        lease: &Lease,
        delay: Duration,
        _failure: &TaskFailure,
    ) -> Result<bool, BackendError> {
        self.retry_now(lease, delay).await.map_err(|e| self.err(e))
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        self.release_now(leases).await.map_err(|e| self.err(e))
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        reason: DeadLetterReason,
        failure: &TaskFailure,
        result_ttl: Option<Duration>,
        _reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        self.dead_letter_now(lease, reason, failure, result_ttl)
            .await
            .map_err(|e| self.err(e))
    }

    async fn extend(
        &self,
        leases: &[Lease],
        by: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        self.extend_now(leases, by).await.map_err(|e| self.err(e))
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, BackendError> {
        self.cancel_now(id).await.map_err(|e| self.err(e))
    }

    async fn record(&self, id: TaskId) -> Result<Option<TaskRecord>, BackendError> {
        self.record_now(id).await.map_err(|e| self.err(e))
    }

    async fn wait_result(
        &self,
        id: TaskId,
        timeout: Option<Duration>,
    ) -> Result<Option<Outcome>, BackendError> {
        self.wait_result_now(id, timeout)
            .await
            .map_err(|e| self.err(e))
    }

    async fn set_progress(&self, lease: &Lease, progress: Payload) -> Result<(), BackendError> {
        self.set_progress_now(lease, progress)
            .await
            .map_err(|e| self.err(e))
    }

    async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BackendError> {
        self.dead_letters_now(queue, limit)
            .await
            .map_err(|e| self.err(e))
    }

    async fn requeue_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        self.requeue_dead_now(queue, select, limit)
            .await
            .map_err(|e| self.err(e))
    }

    async fn purge_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        self.purge_dead_now(queue, select, limit)
            .await
            .map_err(|e| self.err(e))
    }

    async fn incr_counter(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, BackendError> {
        self.incr_counter_now(key, by, ttl)
            .await
            .map_err(|e| self.err(e))
    }

    async fn queue_stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        self.queue_stats_now(queue).await.map_err(|e| self.err(e))
    }

    async fn publish_once(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, BackendError> {
        self.publish_once_now(batch, ttl)
            .await
            .map_err(|e| self.err(e))
    }

    async fn join(
        &self,
        key: &str,
        slot: u32,
        total: u32,
        value: Payload,
        ttl: Duration,
    ) -> Result<Option<Vec<Payload>>, BackendError> {
        self.join_now(key, slot, total, value, ttl)
            .await
            .map_err(|e| self.err(e))
    }

    async fn resolve(
        &self,
        id: TaskId,
        outcome: Outcome,
        ttl: Option<Duration>,
        _reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        self.resolve_now(id, outcome, ttl)
            .await
            .map_err(|e| self.err(e))
    }

    async fn breaker_report(
        &self,
        queue: &str,
        key: &str,
        spec: &BreakerSpec,
        success: bool,
    ) -> Result<BreakerReport, BackendError> {
        self.breaker_report_now(queue, key, spec, success)
            .await
            .map_err(|e| self.err(e))
    }

    async fn set_breaker(
        &self,
        queue: &str,
        key: &str,
        open_for: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.set_breaker_now(queue, key, open_for)
            .await
            .map_err(|e| self.err(e))
    }

    async fn breaker_state(&self, queue: &str, key: &str) -> Result<BreakerState, BackendError> {
        self.breaker_state_now(queue, key)
            .await
            .map_err(|e| self.err(e))
    }

    async fn publish_unique(
        &self,
        env: Envelope,
        key: &str,
        ttl: Duration,
    ) -> Result<UniqueOutcome, BackendError> {
        self.publish_unique_now(env, key, ttl)
            .await
            .map_err(|e| self.err(e))
    }

    fn append_event(&self, event: Event) {
        self.append_event_now(event, &self.appended);
    }

    async fn read_events(&self, read: EventRead<'_>) -> Result<Vec<StoredEvent>, BackendError> {
        self.read_events_now(read).await.map_err(|e| self.err(e))
    }

    async fn events_now(&self, queues: &[String]) -> Result<EventCursor, BackendError> {
        self.events_cursor_now(queues)
            .await
            .map_err(|e| self.err(e))
    }

    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<(), BackendError> {
        self.heartbeat_now(worker, ttl)
            .await
            .map_err(|e| self.err(e))
    }

    async fn remove_worker(&self, id: &str) -> Result<(), BackendError> {
        self.remove_worker_now(id).await.map_err(|e| self.err(e))
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        self.workers_now().await.map_err(|e| self.err(e))
    }

    async fn queues(&self) -> Result<Vec<String>, BackendError> {
        self.queues_now().await.map_err(|e| self.err(e))
    }

    async fn list_tasks(
        &self,
        queue: &str,
        state: ListState,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        self.list_tasks_now(queue, state, cursor, limit).await
    }

    async fn inspect(&self, id: TaskId) -> Result<Option<TaskDetail>, BackendError> {
        self.inspect_now(id).await.map_err(|e| self.err(e))
    }

    async fn purge_queue(&self, queue: &str) -> Result<usize, BackendError> {
        self.purge_now(queue).await.map_err(|e| self.err(e))
    }

    async fn pause_queue(&self, queue: &str) -> Result<(), BackendError> {
        self.pause_now(queue).await.map_err(|e| self.err(e))
    }

    async fn resume_queue(&self, queue: &str) -> Result<(), BackendError> {
        self.resume_now(queue).await.map_err(|e| self.err(e))
    }

    async fn put_schedule(&self, spec: &ScheduleSpec) -> Result<bool, BackendError> {
        self.put_schedule_now(spec).await.map_err(|e| self.err(e))
    }

    async fn schedules(&self) -> Result<Vec<StoredSchedule>, BackendError> {
        self.schedules_now().await.map_err(|e| self.err(e))
    }

    async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, BackendError> {
        self.schedule_now(id).await.map_err(|e| self.err(e))
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool, BackendError> {
        self.delete_schedule_now(id).await.map_err(|e| self.err(e))
    }

    async fn set_schedule_paused(&self, id: &str, paused: bool) -> Result<bool, BackendError> {
        self.set_schedule_paused_now(id, paused)
            .await
            .map_err(|e| self.err(e))
    }

    async fn claim_tick(&self, claim: &TickClaim) -> Result<TickOutcome, BackendError> {
        self.claim_tick_now(claim).await.map_err(|e| self.err(e))
    }

    async fn release_buffered(&self, id: &str) -> Result<Option<TaskId>, BackendError> {
        self.release_buffered_now(id).await.map_err(|e| self.err(e))
    }
}
