//! Lifecycle hooks: async functions a worker runs around each task (Celery's `task_prerun`,
//! `task_success`, `task_failure`, `task_retry` signals).
//!
//! Register them on the worker builder with [`WorkerBuilder::hooks`](crate::WorkerBuilder::hooks).
//!
//! Ordering, for one delivery: `before_start` runs (and ends, or is cut off) before the task
//! body starts. `after_success` runs after the success was handed to the worker's acker (the
//! backend writes it shortly after, in a batch: a hook may see the result not yet stored);
//! `after_retry` runs after the backend accepted the retry; `after_failure` runs for a final
//! failure, before it is dead-lettered; `after_dead_letter` runs after the backend accepted the
//! dead-lettering (final failures and rejected messages alike).
//!
//! A hook runs on the task's worker slot, under a timeout ([`Hooks::timeout`], 5 s by
//! default). A hook that errors, panics or times out is logged with `tracing::warn!` and the
//! task's fields; it never changes the task's outcome or stops the worker.
//!
//! ```
//! # #[taskq::task] async fn noop() {}
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use taskq::hooks::{HookEvent, Hooks};
//!
//! static DONE: AtomicUsize = AtomicUsize::new(0);
//! let client = taskq::Client::memory();
//! let hooks = Hooks::new().after_success(|ev: HookEvent| async move {
//!     assert!(ev.name.ends_with("noop"));
//!     DONE.fetch_add(1, Ordering::SeqCst);
//!     Ok(())
//! });
//! let worker = taskq::Worker::builder()
//!     .client(client.clone())
//!     .register::<noop>()
//!     .hooks(hooks)
//!     .spawn()?;
//! let handle = noop::new().delay_on(&client).await?;
//! handle.get().await?;
//! worker.shutdown().await?;
//! assert_eq!(DONE.load(Ordering::SeqCst), 1);
//! # let _ = Arc::new(());
//! # Ok(())
//! # }
//! ```

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::error::BoxError;
use crate::message::{FailureKind, TaskId};

/// Which transition a hook is told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    /// Before the task body starts.
    BeforeStart,
    /// After the task succeeded.
    AfterSuccess,
    /// After a failed attempt was scheduled to run again.
    AfterRetry,
    /// After the task failed for good (its last attempt).
    AfterFailure,
    /// After the task was dead-lettered.
    AfterDeadLetter,
}

/// What a hook is told about one task.
#[derive(Clone, Debug)]
pub struct HookEvent {
    /// The transition.
    pub kind: HookKind,
    /// The task's id.
    pub id: TaskId,
    /// The task's name.
    pub name: String,
    /// Its queue.
    pub queue: String,
    /// Its attempt, from 1.
    pub attempt: u32,
    /// For retries, failures and dead letters: the error kind and message.
    pub error: Option<(FailureKind, String)>,
    /// For success: how long the task body ran.
    pub runtime: Option<Duration>,
}

/// One hook function.
pub type HookFn = Arc<dyn Fn(HookEvent) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// The hooks of one worker. See the [module docs](self).
#[derive(Clone)]
pub struct Hooks {
    before_start: Vec<HookFn>,
    after_success: Vec<HookFn>,
    after_retry: Vec<HookFn>,
    after_failure: Vec<HookFn>,
    after_dead_letter: Vec<HookFn>,
    timeout: Duration,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("before_start", &self.before_start.len())
            .field("after_success", &self.after_success.len())
            .field("after_retry", &self.after_retry.len())
            .field("after_failure", &self.after_failure.len())
            .field("after_dead_letter", &self.after_dead_letter.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for Hooks {
    fn default() -> Self {
        Self::new()
    }
}

/// The default bound on one hook's run.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(5);

fn boxed<F, Fut>(f: F) -> HookFn
where
    F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
{
    Arc::new(move |ev| f(ev).boxed())
}

impl Hooks {
    /// No hooks, the default timeout.
    pub fn new() -> Self {
        Self {
            before_start: Vec::new(),
            after_success: Vec::new(),
            after_retry: Vec::new(),
            after_failure: Vec::new(),
            after_dead_letter: Vec::new(),
            timeout: DEFAULT_HOOK_TIMEOUT,
        }
    }

    /// The bound on each hook's run (5 s by default); a hook still running then is dropped.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// Adds a hook run before the task body starts.
    pub fn before_start<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.before_start.push(boxed(f));
        self
    }

    /// Adds a hook run after the task succeeded.
    pub fn after_success<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.after_success.push(boxed(f));
        self
    }

    /// Adds a hook run after a failed attempt was scheduled again.
    pub fn after_retry<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.after_retry.push(boxed(f));
        self
    }

    /// Adds a hook run after the task's last attempt failed.
    pub fn after_failure<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.after_failure.push(boxed(f));
        self
    }

    /// Adds a hook run after the task was dead-lettered.
    pub fn after_dead_letter<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.after_dead_letter.push(boxed(f));
        self
    }

    /// Whether no hook is registered (the worker then builds no events).
    pub fn is_empty(&self) -> bool {
        self.before_start.is_empty()
            && self.after_success.is_empty()
            && self.after_retry.is_empty()
            && self.after_failure.is_empty()
            && self.after_dead_letter.is_empty()
    }

    fn of(&self, kind: HookKind) -> &[HookFn] {
        match kind {
            HookKind::BeforeStart => &self.before_start,
            HookKind::AfterSuccess => &self.after_success,
            HookKind::AfterRetry => &self.after_retry,
            HookKind::AfterFailure => &self.after_failure,
            HookKind::AfterDeadLetter => &self.after_dead_letter,
        }
    }

    /// Runs the hooks of `ev.kind` one after the other, each under the timeout; logs what
    /// goes wrong and returns nothing.
    pub(crate) async fn fire(&self, ev: HookEvent) {
        for hook in self.of(ev.kind) {
            let run = AssertUnwindSafe(hook(ev.clone())).catch_unwind();
            let why = match tokio::time::timeout(self.timeout, run).await {
                Ok(Ok(Ok(()))) => continue,
                Ok(Ok(Err(e))) => format!("returned an error: {e}"),
                Ok(Err(_)) => "panicked".to_owned(),
                Err(_) => format!("timed out after {:?}", self.timeout),
            };
            tracing::warn!(
                task_id = %ev.id,
                task = %ev.name,
                queue = %ev.queue,
                attempt = ev.attempt,
                hook = ?ev.kind,
                "a lifecycle hook {why}; the task is not affected"
            );
        }
    }
}
