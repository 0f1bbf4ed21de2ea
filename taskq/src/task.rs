//! The [`Task`] trait that `#[task]` implements, its options, and [`Call`], a task about to be
//! sent (or run right here).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as PollContext, Poll};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::Client;
use crate::context::Context;
use crate::error::Error;
use crate::message::{Backoff, Envelope, Payload, TaskId, Timestamp};
use crate::result::AsyncResult;

/// The queue of a task that names none.
pub const DEFAULT_QUEUE: &str = "default";
/// The priority of a task that names none (0 to 9, higher first).
pub const DEFAULT_PRIORITY: u8 = 5;
/// The highest priority.
pub const MAX_PRIORITY: u8 = 9;
/// How long a result is kept when the task says nothing: one day.
pub const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A task's options, as written in `#[task(...)]`. Every call can override them with [`Call`]'s
/// builder methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskOptions {
    /// The queue the task is sent to.
    pub queue: &'static str,
    /// Its priority, 0 to 9; higher runs first.
    pub priority: u8,
    /// How many times it may run in all (1 means no retry).
    pub max_attempts: u32,
    /// The backoff between attempts.
    pub backoff: Backoff,
    /// How long one attempt may run.
    pub timeout: Option<Duration>,
    /// How long the result is kept; `None` when the task ignores its result.
    pub result_ttl: Option<Duration>,
    /// `#[task(unique_for = "10m")]`: the task is unique by its arguments, its key held at
    /// most this long (see [`crate::unique`]); `None`: not unique unless a call asks.
    pub unique_for: Option<Duration>,
    /// `#[task(rate_limit = "100/s")]`: a fleet-wide rate limit (see [`crate::flow`]).
    pub rate_limit: Option<crate::flow::RateLimit>,
    /// `#[task(concurrency = 5)]`: a fleet-wide concurrency limit (see [`crate::flow`]).
    pub concurrency: Option<crate::flow::ConcurrencyLimit>,
    /// `#[task(circuit_breaker(..))]`: a fleet-wide circuit breaker (see [`crate::flow`]).
    pub circuit_breaker: Option<crate::flow::BreakerSpec>,
}

impl TaskOptions {
    /// Queue `default`, priority 5, one attempt, default backoff, no timeout, results kept a day.
    pub const DEFAULT: TaskOptions = TaskOptions {
        queue: DEFAULT_QUEUE,
        priority: DEFAULT_PRIORITY,
        max_attempts: 1,
        backoff: Backoff::DEFAULT,
        timeout: None,
        result_ttl: Some(DEFAULT_RESULT_TTL),
        unique_for: None,
        rate_limit: None,
        concurrency: None,
        circuit_breaker: None,
    };
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A task: a serializable struct holding a function's arguments, and the function to run.
///
/// You do not implement this by hand: `#[taskq::task]` writes it for you, along with the struct.
///
/// ```
/// #[taskq::task(retries = 2, timeout = "10s")]
/// async fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// use taskq::Task;
/// assert!(<add as Task>::NAME.ends_with("add"));
/// assert_eq!(<add as Task>::OPTIONS.max_attempts, 3);
/// ```
pub trait Task: Serialize + DeserializeOwned + Send + 'static {
    /// The stable name the task is registered and sent under.
    const NAME: &'static str;
    /// The options given in `#[task(...)]`.
    const OPTIONS: TaskOptions;
    /// What the task produces when it succeeds.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// What it fails with (`std::convert::Infallible` when it cannot fail).
    type Error: fmt::Display + Send + 'static;
    /// What the user's function returns: `Output`, or `Result<Output, Error>`.
    type Return: Send + 'static;

    /// Runs the task.
    fn run(self, ctx: Context) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;

    /// The task's schemas: `#[task]` writes this (see [`crate::schema`]); read it through
    /// [`TaskEntry::schema`](crate::TaskEntry::schema). By default: any JSON arguments and
    /// output.
    #[doc(hidden)]
    fn __schema(generator: &mut crate::schema::SchemaGen) -> crate::schema::TaskSchema {
        let _ = generator;
        crate::schema::TaskSchema::any()
    }
}

#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be awaited in place: only an `async fn` task without a `taskq::Context` argument can",
    label = "send it with `.delay()` instead, or call the function itself",
    note = "a sync `fn` task, or one that takes a `Context`, keeps its function as written: call that directly"
)]
/// A task whose function can also be run in place, without a queue: an `async fn` without a
/// [`Context`] argument. `#[task]` implements it; it is what makes `add(2, 3).await` work.
pub trait Invoke: Task {
    /// Runs the user's function here and now.
    fn invoke(self) -> BoxFuture<'static, Self::Return>;
}

/// Per-call options: [`Call::apply_async`] takes them all at once, like Celery's
/// `apply_async(countdown=..., priority=...)`; the builder methods of [`Call`] set them one by one.
///
/// ```
/// # use std::time::Duration;
/// let opts = taskq::CallOptions {
///     countdown: Some(Duration::from_secs(60)),
///     priority: Some(9),
///     ..Default::default()
/// };
/// # let _ = opts;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// The task id to use (a fresh one if `None`).
    pub id: Option<TaskId>,
    /// Another queue.
    pub queue: Option<String>,
    /// Another priority, 0 to 9.
    pub priority: Option<u8>,
    /// Run no sooner than this long from now.
    pub countdown: Option<Duration>,
    /// Run no sooner than this time.
    pub eta: Option<SystemTime>,
    /// Discard if not started this long from now.
    pub expires_in: Option<Duration>,
    /// Discard if not started by this time.
    pub expires_at: Option<SystemTime>,
    /// Another attempt limit.
    pub max_attempts: Option<u32>,
    /// Another timeout per attempt.
    pub timeout: Option<Duration>,
    /// Another result lifetime; `Some(None)` stores no result.
    pub result_ttl: Option<Option<Duration>>,
    /// Deduplicate by this key instead of the arguments (see [`crate::unique`]).
    pub unique_key: Option<String>,
    /// Make the call unique, its key held at most this long (see [`crate::unique`]).
    pub unique_for: Option<Duration>,
}

/// A task with its arguments, ready to be sent with [`delay`](Call::delay) or, for an
/// `async fn` task without a [`Context`], awaited to run it right here.
///
/// `#[task] async fn add(a: i64, b: i64) -> i64` makes `add(2, 3)` and `add::new(2, 3)` return a
/// `Call<add>`:
///
/// ```
/// # use std::time::Duration;
/// #[taskq::task]
/// async fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// // Run it in place, like the plain function:
/// assert_eq!(add(2, 3).await, 5);
///
/// // Or send it to a worker (here the in-memory backend, and a worker in this process):
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
/// let handle = add(2, 3).countdown(Duration::from_millis(10)).priority(9).delay_on(&client).await?;
/// assert_eq!(handle.get().await?, 5);
/// worker.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a call does nothing until it is `.delay()`ed or `.await`ed"]
pub struct Call<T: Task> {
    task: Option<T>,
    options: CallOptions,
    running: Option<BoxFuture<'static, T::Return>>,
}

// The task is only ever moved out of an `Option`, never pinned in place, so a `Call` can move
// even while it is being polled.
impl<T: Task> Unpin for Call<T> {}

impl<T: Task + fmt::Debug> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("task", &self.task)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<T: Task> From<T> for Call<T> {
    fn from(task: T) -> Self {
        Call::new(task)
    }
}

impl<T: Task> Call<T> {
    /// A call of `task` with the task's own options.
    pub fn new(task: T) -> Self {
        Self {
            task: Some(task),
            options: CallOptions::default(),
            running: None,
        }
    }

    /// The task's arguments; `None` once the call has been awaited (they moved into the run).
    pub fn task(&self) -> Option<&T> {
        self.task.as_ref()
    }

    /// The options set so far.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// Runs no sooner than `delay` from now (Celery's `countdown`).
    pub fn countdown(mut self, delay: Duration) -> Self {
        self.options.countdown = Some(delay);
        self
    }

    /// Runs no sooner than `at` (Celery's `eta`).
    pub fn eta(mut self, at: SystemTime) -> Self {
        self.options.eta = Some(at);
        self
    }

    /// Is discarded, failing with [`FailureKind::Expired`](crate::FailureKind::Expired), if it has
    /// not started within `ttl`.
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.options.expires_in = Some(ttl);
        self
    }

    /// Is discarded if it has not started by `at`.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.options.expires_at = Some(at);
        self
    }

    /// Sets the priority, 0 to 9 (higher first; values above 9 count as 9).
    pub fn priority(mut self, priority: u8) -> Self {
        self.options.priority = Some(priority.min(MAX_PRIORITY));
        self
    }

    /// Sends to `queue` instead of the task's own queue.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.options.queue = Some(queue.into());
        self
    }

    /// Allows this many runs in all (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.options.max_attempts = Some(attempts.max(1));
        self
    }

    /// Limits each attempt to `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Keeps the result for `ttl`.
    pub fn result_ttl(mut self, ttl: Duration) -> Self {
        self.options.result_ttl = Some(Some(ttl));
        self
    }

    /// Stores no result (its handle's `get()` then fails with [`Error::NoResult`]).
    pub fn ignore_result(mut self) -> Self {
        self.options.result_ttl = Some(None);
        self
    }

    /// Uses `id` as the task id.
    pub fn with_id(mut self, id: TaskId) -> Self {
        self.options.id = Some(id);
        self
    }

    /// Makes this call unique by `key` (with the task's name) instead of by its arguments: while
    /// a task sent with the same key lives, sending again returns that task's handle, and
    /// [`AsyncResult::enqueued`] says [`Enqueued::Existing`](crate::unique::Enqueued). The key
    /// is held at most the task's `unique_for`, or [`DEFAULT_UNIQUE_FOR`](crate::unique::DEFAULT_UNIQUE_FOR).
    ///
    /// ```
    /// #[taskq::task]
    /// async fn sync_account(id: u64, full: bool) {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), taskq::Error> {
    /// let client = taskq::Client::memory();
    /// let a = sync_account(1, false).unique_key("account-1").delay_on(&client).await?;
    /// let b = sync_account(1, true).unique_key("account-1").delay_on(&client).await?;
    /// assert_eq!(b.id(), a.id());
    /// assert_eq!(b.enqueued(), taskq::unique::Enqueued::Existing);
    /// # Ok(())
    /// # }
    /// ```
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.options.unique_key = Some(key.into());
        self
    }

    /// Makes this call unique (by its arguments unless [`Call::unique_key`] is set), its key
    /// held at most `window`.
    pub fn unique_for(mut self, window: Duration) -> Self {
        self.options.unique_for = Some(window);
        self
    }

    /// Sets all the options at once and sends the task with the current client, like Celery's
    /// `apply_async`.
    pub async fn apply_async(
        mut self,
        options: CallOptions,
    ) -> Result<AsyncResult<T::Output>, Error> {
        self.options = options;
        self.delay().await
    }

    /// Sends the task with the current client: the worker's own inside a task, otherwise the
    /// process-wide one (see [`Client::current`]).
    pub async fn delay(self) -> Result<AsyncResult<T::Output>, Error> {
        let client = Client::current().await?;
        client.send(self).await
    }

    /// Sends the task with `client`.
    pub async fn delay_on(self, client: &Client) -> Result<AsyncResult<T::Output>, Error> {
        client.send(self).await
    }

    /// Builds the message this call sends.
    ///
    /// # Errors
    /// [`Error::Encode`] if the arguments do not serialize; [`Error::Config`] if the call was
    /// already polled as a future.
    pub fn into_envelope(self) -> Result<Envelope, Error> {
        self.into_unique_envelope().map(|(env, _)| env)
    }

    /// The message, and the unique key it is sent under if the task or the call is unique.
    pub(crate) fn into_unique_envelope(
        self,
    ) -> Result<(Envelope, Option<crate::unique::UniqueKey>), Error> {
        let Call { task, options, .. } = self;
        let task = task.ok_or(crate::error::ConfigError::OutOfRange {
            name: "Call",
            expected: "sent before it is awaited",
        })?;
        let args = Payload::encode(&task).map_err(|source| Error::Encode {
            what: "task arguments",
            source,
        })?;
        let unique = unique_for::<T>(&args, &options);
        Ok((envelope_for::<T>(args, options), unique))
    }
}

/// The unique key of a call of `T`, if the task or the call is unique (see [`crate::unique`]).
fn unique_for<T: Task>(args: &Payload, options: &CallOptions) -> Option<crate::unique::UniqueKey> {
    let window = options.unique_for.or(T::OPTIONS.unique_for);
    if window.is_none() && options.unique_key.is_none() {
        return None;
    }
    let ttl = window.unwrap_or(crate::unique::DEFAULT_UNIQUE_FOR);
    Some(crate::unique::UniqueKey::new(
        T::NAME,
        options.unique_key.as_deref(),
        args,
        ttl,
    ))
}

/// The message for task `T` with serialized arguments `args`: the task's options, overridden by
/// the call's.
pub(crate) fn envelope_for<T: Task>(args: Payload, options: CallOptions) -> Envelope {
    let o = &T::OPTIONS;
    let mut env = Envelope::new(
        T::NAME,
        options.queue.unwrap_or_else(|| o.queue.to_owned()),
        args,
    );
    let now = env.enqueued_at;
    if let Some(id) = options.id {
        env.id = id;
    }
    env.eta = match (options.eta, options.countdown) {
        (Some(at), _) => Some(Timestamp::from(at)),
        (None, Some(d)) => Some(now.after(d)),
        (None, None) => None,
    };
    env.expires = match (options.expires_at, options.expires_in) {
        (Some(at), _) => Some(Timestamp::from(at)),
        (None, Some(d)) => Some(now.after(d)),
        (None, None) => None,
    };
    env.priority = options.priority.unwrap_or(o.priority);
    env.max_attempts = options.max_attempts.unwrap_or(o.max_attempts).max(1);
    env.backoff = o.backoff;
    env.timeout_ms = options
        .timeout
        .or(o.timeout)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    env.result_ttl_ms = options
        .result_ttl
        .unwrap_or(o.result_ttl)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    env.gate = crate::flow::gate_for(
        T::NAME,
        o.rate_limit,
        o.concurrency,
        o.circuit_breaker,
        &env.args,
    );
    env
}

impl<T: Invoke> Future for Call<T> {
    type Output = T::Return;

    fn poll(self: Pin<&mut Self>, cx: &mut PollContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.running.is_none() {
            match this.task.take() {
                Some(task) => this.running = Some(task.invoke()),
                None => panic!("`Call` polled after completion"),
            }
        }
        match this.running.as_mut() {
            Some(fut) => {
                let out = fut.as_mut().poll(cx);
                if out.is_ready() {
                    this.running = None;
                }
                out
            }
            None => panic!("`Call` polled after completion"),
        }
    }
}
