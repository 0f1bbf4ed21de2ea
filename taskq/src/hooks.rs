//! Lifecycle hooks: async functions a worker runs around each task (Celery's `task_prerun`,
//! `task_success`, `task_failure`, `task_retry` signals).
//!
//! Register them on the worker builder with [`WorkerBuilder::hooks`](crate::WorkerBuilder::hooks),
//! or at link time with `#[taskq::hook(after_success)]` on an `async fn` (see [`HookEntry`]):
//! every worker of the binary then runs it, before the builder's hooks of the same kind.
//!
//! Ordering, for one delivery: `before_start` runs (and ends, or is cut off) before the task
//! body starts. `after_success` runs after the success was handed to the worker's acker (the
//! backend writes it shortly after, in a batch: a hook may see the result not yet stored);
//! `after_retry` runs after the backend accepted the retry; `after_failure` runs for a final
//! failure, before it is dead-lettered; `after_dead_letter` runs after the backend accepted the
//! dead-lettering (final failures and rejected messages alike); `after_revoked` runs after a
//! revoked task's cancelled outcome was handed to the acker; `after_lease_lost` runs when the
//! worker stopped a task whose lease it lost (another worker may have it: nothing was recorded).
//! A task that expires before it starts is failed by the backend's fetch and reaches no worker:
//! no hook runs for it (its `failed` event does).
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
    /// After a revoked task was stopped (or dropped before it started) and recorded as cancelled.
    AfterRevoked,
    /// After the worker stopped a task whose lease it lost; nothing was recorded.
    AfterLeaseLost,
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
    after_revoked: Vec<HookFn>,
    after_lease_lost: Vec<HookFn>,
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
            .field("after_revoked", &self.after_revoked.len())
            .field("after_lease_lost", &self.after_lease_lost.len())
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
            after_revoked: Vec::new(),
            after_lease_lost: Vec::new(),
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

    /// Adds a hook run after a revoked task was recorded as cancelled.
    pub fn after_revoked<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.after_revoked.push(boxed(f));
        self
    }

    /// Adds a hook run after the worker stopped a task whose lease it lost.
    pub fn after_lease_lost<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.after_lease_lost.push(boxed(f));
        self
    }

    /// Adds a hook of `kind`.
    pub fn on<F, Fut>(mut self, kind: HookKind, f: F) -> Self
    where
        F: Fn(HookEvent) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.of_mut(kind).push(boxed(f));
        self
    }

    /// These hooks with every hook registered at link time (`#[taskq::hook]`, see
    /// [`HookEntry`]) put before them, kind by kind, in the order of their names. A worker does
    /// this when it starts.
    pub fn with_linked(mut self) -> Self {
        for entry in linked().into_iter().rev() {
            let run = entry.run;
            self.of_mut(entry.kind)
                .insert(0, Arc::new(move |ev: HookEvent| run(ev)));
        }
        self
    }

    /// Whether no hook is registered (the worker then builds no events).
    pub fn is_empty(&self) -> bool {
        self.before_start.is_empty()
            && self.after_success.is_empty()
            && self.after_retry.is_empty()
            && self.after_failure.is_empty()
            && self.after_dead_letter.is_empty()
            && self.after_revoked.is_empty()
            && self.after_lease_lost.is_empty()
    }

    fn of(&self, kind: HookKind) -> &[HookFn] {
        match kind {
            HookKind::BeforeStart => &self.before_start,
            HookKind::AfterSuccess => &self.after_success,
            HookKind::AfterRetry => &self.after_retry,
            HookKind::AfterFailure => &self.after_failure,
            HookKind::AfterDeadLetter => &self.after_dead_letter,
            HookKind::AfterRevoked => &self.after_revoked,
            HookKind::AfterLeaseLost => &self.after_lease_lost,
        }
    }

    fn of_mut(&mut self, kind: HookKind) -> &mut Vec<HookFn> {
        match kind {
            HookKind::BeforeStart => &mut self.before_start,
            HookKind::AfterSuccess => &mut self.after_success,
            HookKind::AfterRetry => &mut self.after_retry,
            HookKind::AfterFailure => &mut self.after_failure,
            HookKind::AfterDeadLetter => &mut self.after_dead_letter,
            HookKind::AfterRevoked => &mut self.after_revoked,
            HookKind::AfterLeaseLost => &mut self.after_lease_lost,
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

/// A hook registered at link time: what `#[taskq::hook(kind)]` on an `async fn` generates
/// (through [`link_submit!`](crate::__private::link_submit), so it follows the `linkme`
/// feature like tasks do). Every worker of the binary merges these with its builder's hooks
/// when it starts ([`Hooks::with_linked`]).
///
/// The function takes a [`HookEvent`] and returns `()` or a `Result<(), E>` whose error turns
/// into a [`BoxError`] (a `String`, any `std::error::Error`); its error or panic is logged.
///
/// ```
/// use taskq::hooks::HookEvent;
///
/// /// Counts successes, whatever the task.
/// #[taskq::hook(after_success)]
/// async fn count_success(ev: HookEvent) {
///     let _ = ev.name;
/// }
///
/// /// Pages someone when a task is dead-lettered.
/// #[taskq::hook(after_dead_letter)]
/// async fn page(ev: HookEvent) -> Result<(), String> {
///     if ev.name.is_empty() { Err("no name".into()) } else { Ok(()) }
/// }
///
/// let linked = taskq::hooks::linked();
/// assert!(linked.iter().any(|e| e.name.ends_with("::count_success")));
/// // The function stays callable as written.
/// # let _ = count_success;
/// ```
#[derive(Debug)]
pub struct HookEntry {
    /// The transition it runs on.
    pub kind: HookKind,
    /// Its function's path (`my_app::hooks::page`), which orders hooks of one kind.
    pub name: &'static str,
    /// Runs it.
    pub run: fn(HookEvent) -> BoxFuture<'static, Result<(), BoxError>>,
}

/// Every hook registered at link time, in the order of their names.
pub fn linked() -> Vec<&'static HookEntry> {
    let mut all: Vec<&'static HookEntry> = crate::link::hooks().collect();
    all.sort_by_key(|e| e.name);
    all
}

/// What a link-time hook function may return: `()`, or `Result<(), E>` with an error that
/// turns into a [`BoxError`]. Used by the code `#[taskq::hook]` generates.
#[doc(hidden)]
pub trait IntoHookResult {
    /// The hook's result as the worker takes it.
    fn into_hook_result(self) -> Result<(), BoxError>;
}

impl IntoHookResult for () {
    fn into_hook_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> IntoHookResult for Result<(), E> {
    fn into_hook_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}
