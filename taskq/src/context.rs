//! [`Context`]: what a running task can know and do about its own run.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;

use futures_util::task::AtomicWaker;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::Error;
use crate::message::{Envelope, Lease, Payload, TaskId};

tokio::task_local! {
    static CURRENT: Context;
}

/// A task's view of its own run: its id and attempt, a cancellation token, a way to ask for a
/// retry after a given delay, and progress reports.
///
/// Take it as an argument of a `#[task]` function (any argument of type `taskq::Context`); it is
/// not part of the task's serialized arguments.
///
/// ```
/// use std::time::Duration;
///
/// #[taskq::task(retries = 5)]
/// async fn fetch_page(ctx: taskq::Context, url: String) -> Result<usize, String> {
///     ctx.set_progress(&"connecting").await.ok();
///     if ctx.is_cancelled() {
///         return Err("stopped".into());
///     }
///     if url.is_empty() {
///         // Retry in 30 s rather than after the task's exponential backoff.
///         ctx.retry_after(Duration::from_secs(30));
///         return Err("no url yet".into());
///     }
///     Ok(url.len())
/// }
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    id: TaskId,
    task: Cow<'static, str>,
    attempt: u32,
    max_attempts: u32,
    root_id: TaskId,
    lease: Option<Lease>,
    /// Made on first use: most tasks never look at it, and the worker watches `interrupt`
    /// through `waker` instead.
    cancel: OnceLock<CancellationToken>,
    retry_after: Mutex<Option<Duration>>,
    client: Option<Client>,
    /// The worker running it, for its events.
    worker: Option<Arc<str>>,
    /// Why the worker stopped the task (0 while it has not): the worker's own code.
    interrupt: AtomicU8,
    /// The worker's run of the task, woken when it is interrupted.
    waker: AtomicWaker,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.inner.id)
            .field("task", &self.inner.task)
            .field("attempt", &self.inner.attempt)
            .field("max_attempts", &self.inner.max_attempts)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// The context of a delivery run by a worker.
    pub(crate) fn for_delivery(
        envelope: &Envelope,
        task: Cow<'static, str>,
        lease: Lease,
        client: Client,
        worker: Arc<str>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                id: envelope.id,
                task,
                attempt: envelope.attempt,
                max_attempts: envelope.max_attempts,
                root_id: envelope.root_id.unwrap_or(envelope.id),
                lease: Some(lease),
                cancel: OnceLock::new(),
                retry_after: Mutex::new(None),
                client: Some(client),
                worker: Some(worker),
                interrupt: AtomicU8::new(0),
                waker: AtomicWaker::new(),
            }),
        }
    }

    /// A context that belongs to no worker: for calling a task's function directly, in tests or
    /// in place. Its id is fresh, its attempt is 1, nothing cancels it and progress goes nowhere.
    ///
    /// ```
    /// let ctx = taskq::Context::detached("reports.build");
    /// assert_eq!(ctx.attempt(), 1);
    /// assert!(!ctx.is_cancelled());
    /// ```
    pub fn detached(task: impl Into<String>) -> Self {
        let id = TaskId::new();
        Self {
            inner: Arc::new(Inner {
                id,
                task: Cow::Owned(task.into()),
                attempt: 1,
                max_attempts: 1,
                root_id: id,
                lease: None,
                cancel: OnceLock::new(),
                retry_after: Mutex::new(None),
                client: None,
                worker: None,
                interrupt: AtomicU8::new(0),
                waker: AtomicWaker::new(),
            }),
        }
    }

    /// The context of the task running on this tokio task, if any.
    pub fn current() -> Option<Context> {
        CURRENT.try_with(Clone::clone).ok()
    }

    pub(crate) async fn scope<F: std::future::Future>(self, fut: F) -> F::Output {
        CURRENT.scope(self, fut).await
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.inner.id
    }

    /// The id of the first task of the tree this one belongs to (its own id for a task that no
    /// task enqueued).
    pub fn root_id(&self) -> TaskId {
        self.inner.root_id
    }

    /// The registered task name.
    pub fn task_name(&self) -> &str {
        &self.inner.task
    }

    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// How many attempts are allowed in all.
    pub fn max_attempts(&self) -> u32 {
        self.inner.max_attempts
    }

    /// Whether a failure now would be final.
    pub fn is_last_attempt(&self) -> bool {
        self.inner.attempt >= self.inner.max_attempts
    }

    /// Whether the task has been revoked, or the worker is stopping it.
    pub fn is_cancelled(&self) -> bool {
        self.interrupted() != 0 || self.inner.cancel.get().is_some_and(|t| t.is_cancelled())
    }

    fn token(&self) -> &CancellationToken {
        let token = self.inner.cancel.get_or_init(CancellationToken::new);
        // An interruption that came before the token existed cancels it now.
        if self.interrupted() != 0 {
            token.cancel();
        }
        token
    }

    /// Completes when the task is revoked or the worker stops it: `select!` on it to stop early
    /// and clean up.
    pub async fn cancelled(&self) {
        self.token().cancelled().await
    }

    /// The token behind [`is_cancelled`](Self::is_cancelled), to hand to code that takes one.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.token().clone()
    }

    /// Asks that, if this attempt fails, the next one start after `delay` instead of after the
    /// task's exponential backoff. Attempts are still limited by the task's `retries`.
    pub fn retry_after(&self, delay: Duration) {
        if let Ok(mut slot) = self.inner.retry_after.lock() {
            *slot = Some(delay);
        }
    }

    /// Stops the task for `reason` (a nonzero worker code); the first reason given wins.
    pub(crate) fn interrupt(&self, reason: u8) {
        let _ =
            self.inner
                .interrupt
                .compare_exchange(0, reason, Ordering::SeqCst, Ordering::SeqCst);
        if let Some(token) = self.inner.cancel.get() {
            token.cancel();
        }
        self.inner.waker.wake();
    }

    /// Runs `fut` until it finishes (`Ok`) or the task is interrupted (`Err(reason)`).
    pub(crate) fn interruptible<F: Future>(&self, fut: F) -> Interruptible<'_, F> {
        Interruptible { ctx: self, fut }
    }

    /// The reason the task was stopped for, 0 if it was not.
    pub(crate) fn interrupted(&self) -> u8 {
        self.inner.interrupt.load(Ordering::SeqCst)
    }

    pub(crate) fn requested_retry(&self) -> Option<Duration> {
        self.inner.retry_after.lock().ok().and_then(|s| *s)
    }

    /// The client of the worker running this task (enqueue follow-up tasks with it); `None` for a
    /// detached context. `.delay()` inside a task uses it already.
    pub fn client(&self) -> Option<&Client> {
        self.inner.client.as_ref()
    }

    /// Records a progress report that [`AsyncResult::progress`](crate::AsyncResult::progress)
    /// returns and that an `Progress` event announces. Does nothing for a detached context.
    ///
    /// # Errors
    /// [`Error::Encode`] if `progress` does not serialize; [`Error::Backend`] if the backend
    /// cannot store it.
    pub async fn set_progress<P: Serialize + ?Sized>(&self, progress: &P) -> Result<(), Error> {
        let payload = Payload::encode(progress).map_err(|source| Error::Encode {
            what: "progress",
            source,
        })?;
        let (Some(client), Some(lease)) = (&self.inner.client, &self.inner.lease) else {
            return Ok(());
        };
        let detail = crate::events::wanted().then(|| payload.as_str().to_owned());
        client.backend().set_progress(lease, payload).await?;
        if let Some(detail) = detail {
            let event = crate::events::Event::new(
                crate::events::EventKind::Progress,
                self.inner.id,
                self.inner.task.clone(),
                lease.queue.clone(),
            )
            .attempt(self.inner.attempt)
            .worker(self.inner.worker.clone())
            .detail(detail);
            crate::events::record(&**client.backend(), event);
        }
        Ok(())
    }
}

pin_project_lite::pin_project! {
    /// See [`Context::interruptible`].
    pub(crate) struct Interruptible<'a, F> {
        ctx: &'a Context,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for Interruptible<'_, F> {
    type Output = Result<F::Output, u8>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Register first, then look: an interruption in between still wakes us.
        this.ctx.inner.waker.register(cx.waker());
        let reason = this.ctx.interrupted();
        if reason != 0 {
            return Poll::Ready(Err(reason));
        }
        this.fut.poll(cx).map(Ok)
    }
}
