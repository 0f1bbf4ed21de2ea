//! [`Client`]: sends tasks to a backend and hands back typed result handles.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::backend::{self, memory::MemoryBackend, Backend, CancelOutcome, TaskDetail, WorkerInfo};
use crate::context::Context;
use crate::error::{ConfigError, Error};
use crate::events::{self, Event, EventKind};
use crate::message::{Envelope, FailureKind, Outcome, TaskFailure, TaskId};
use crate::result::AsyncResult;
use crate::task::DEFAULT_RESULT_TTL;
use crate::task::{Call, Task};

/// The environment variable that names the backend: `memory://` (the default when unset) or a
/// URL a linked backend crate handles, such as `redis://127.0.0.1:6379/0`.
pub const URL_ENV: &str = "TASKQ_URL";

static GLOBAL: OnceCell<Client> = OnceCell::const_new();

/// Sends tasks to a backend. Cheap to clone; clones share the backend and its connections.
///
/// Most code never names a client: `.delay()` uses [`Client::current`]. Name one to talk to two
/// backends, or to install a configured one with [`Client::set_global`].
///
/// ```
/// #[taskq::task]
/// async fn double(x: u32) -> u32 {
///     x * 2
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
/// let handles = client.send_many((1..=3).map(double::new)).await?;
/// let mut outputs = Vec::new();
/// for h in handles {
///     outputs.push(h.get().await?);
/// }
/// assert_eq!(outputs, vec![2, 4, 6]);
/// worker.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    backend: Arc<dyn Backend>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("backend", &self.backend.name())
            .finish()
    }
}

impl Client {
    /// A client of `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend }
    }

    /// A client of a new, empty in-memory backend.
    pub fn memory() -> Self {
        Self::new(Arc::new(MemoryBackend::new()))
    }

    /// A client of the backend `url` names (see [`backend::connect`]).
    ///
    /// # Errors
    /// An unknown scheme, or the backend's connection error.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Ok(Self::new(backend::connect(url).await?))
    }

    /// A client of the backend `TASKQ_URL` names, or of a new in-memory backend if it is unset.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn from_env() -> Result<Self, Error> {
        match std::env::var(URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Self::connect(url.trim()).await,
            _ => Ok(Self::memory()),
        }
    }

    /// The process-wide client: the one installed with [`Client::set_global`], or else one made
    /// from the environment on first use ([`Client::from_env`]).
    ///
    /// # Errors
    /// As [`Client::from_env`], on every call until it succeeds.
    pub async fn global() -> Result<Client, Error> {
        GLOBAL.get_or_try_init(Self::from_env).await.cloned()
    }

    /// Installs the process-wide client. Do it before the first `.delay()`.
    ///
    /// ```
    /// taskq::Client::set_global(taskq::Client::memory()).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::ClientAlreadySet`] if there is one already.
    pub fn set_global(client: Client) -> Result<(), Error> {
        GLOBAL
            .set(client)
            .map_err(|_| ConfigError::ClientAlreadySet.into())
    }

    /// The client `.delay()` uses: inside a task run by a worker, that worker's client;
    /// elsewhere the process-wide one.
    ///
    /// # Errors
    /// As [`Client::global`].
    pub async fn current() -> Result<Client, Error> {
        if let Some(client) = Context::current().and_then(|c| c.client().cloned()) {
            return Ok(client);
        }
        Self::global().await
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Sends one task and returns its typed handle.
    ///
    /// # Errors
    /// [`Error::Encode`] if the arguments do not serialize; the backend's error.
    pub async fn send<T: Task>(
        &self,
        call: impl Into<Call<T>>,
    ) -> Result<AsyncResult<T::Output>, Error> {
        let (env, unique) = self.prepare_unique(call.into())?;
        if let Some(key) = unique {
            return self.send_unique::<T>(env, key).await;
        }
        let handle =
            AsyncResult::with_result_kept(self.clone(), env.id, env.result_ttl_ms.is_some())
                .named(T::NAME);
        self.publish(vec![env]).await?;
        Ok(handle)
    }

    /// Sends a unique task ([`crate::unique`]): through
    /// [`Backend::publish_unique`](crate::backend::Backend::publish_unique), the enqueued event
    /// recorded only when it was new.
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    async fn send_unique<T: Task>(
        &self,
        env: Envelope,
        key: crate::unique::UniqueKey,
    ) -> Result<AsyncResult<T::Output>, Error> {
        use crate::unique::{Enqueued, UniqueOutcome};
        let kept = env.result_ttl_ms.is_some();
        let id = env.id;
        let mut envs = vec![env];
        #[cfg(feature = "otel")]
        crate::telemetry::trace::inject(&mut envs);
        let event = events::wanted().then(|| enqueued(&envs[0]));
        let mut envs = envs.into_iter();
        let Some(env) = envs.next() else {
            return Err(crate::error::ConfigError::OutOfRange {
                name: "Call",
                expected: "one message",
            }
            .into());
        };
        let (id, enqueued_as) = match self
            .backend
            .publish_unique(env, &key.digest, key.ttl)
            .await?
        {
            UniqueOutcome::New => {
                if let Some(event) = event {
                    events::record(&*self.backend, event);
                }
                (id, Enqueued::New)
            }
            UniqueOutcome::Existing(holder) => (holder, Enqueued::Existing),
        };
        Ok(AsyncResult::with_result_kept(self.clone(), id, kept)
            .named(T::NAME)
            .with_enqueued(enqueued_as))
    }

    /// Sends many tasks of one type in one batch (one round trip on a network backend).
    ///
    /// # Errors
    /// As [`Client::send`]; nothing is sent if any task fails to serialize.
    pub async fn send_many<T: Task, C: Into<Call<T>>>(
        &self,
        calls: impl IntoIterator<Item = C>,
    ) -> Result<Vec<AsyncResult<T::Output>>, Error> {
        // Every call prepared before the first await: the caller's iterator (often a closure
        // over borrowed data) is not held across one, so the future stays `Send`.
        let prepared = calls
            .into_iter()
            .map(|call| self.prepare_unique(call.into()))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut envs = Vec::new();
        let mut handles = Vec::new();
        for (env, unique) in prepared {
            if let Some(key) = unique {
                // A unique task goes on its own: each needs its own check of its key.
                handles.push(self.send_unique::<T>(env, key).await?);
                continue;
            }
            handles.push(
                AsyncResult::with_result_kept(self.clone(), env.id, env.result_ttl_ms.is_some())
                    .named(T::NAME),
            );
            envs.push(env);
        }
        if !envs.is_empty() {
            self.publish(envs).await?;
        }
        Ok(handles)
    }

    /// Sends messages built by hand: for tasks known only by name, such as a task of another
    /// binary or language. Parent and root ids are filled in inside a running task.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), taskq::Error> {
    /// use taskq::{Envelope, Payload};
    /// let client = taskq::Client::memory();
    /// let env = Envelope::new("billing.charge", "default", Payload::encode(&(42, "EUR")).unwrap());
    /// let id = env.id;
    /// client.send_envelopes(vec![env]).await?;
    /// let handle = client.result::<serde_json::Value>(id);
    /// assert_eq!(handle.state().await?, taskq::TaskState::Pending);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The backend's error.
    pub async fn send_envelopes(&self, mut envs: Vec<Envelope>) -> Result<(), Error> {
        if let Some(ctx) = Context::current() {
            for env in &mut envs {
                stamp_parent(env, &ctx);
            }
        }
        self.publish(envs).await
    }

    /// Sends `env` unless a message with its id went through a send-once within the last
    /// `ttl` ([`Backend::publish_once`](crate::backend::Backend::publish_once)); returns whether
    /// this call sent it. Choose the id yourself (derived from an idempotency key, an order
    /// number, ...) and a retried call never enqueues the task twice. The enqueued event and
    /// the submitted metric count it only when it was sent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), taskq::Error> {
    /// # use std::time::Duration;
    /// let client = taskq::Client::memory();
    /// let args = taskq::Payload::encode(&serde_json::json!({ "order": 17 })).unwrap();
    /// let env = taskq::Envelope::new("shop.ship", "default", args);
    /// let day = Duration::from_secs(24 * 3600);
    /// assert!(client.send_once(env.clone(), day).await?);
    /// assert!(!client.send_once(env, day).await?); // the same id again: not sent
    /// assert_eq!(client.backend().queue_stats("default").await?.ready, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The backend's error ([`BackendError::Unsupported`](crate::BackendError::Unsupported)
    /// for a backend without `publish_once`).
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    pub async fn send_once(&self, mut env: Envelope, ttl: Duration) -> Result<bool, Error> {
        if let Some(ctx) = Context::current() {
            stamp_parent(&mut env, &ctx);
        }
        let mut envs = vec![env];
        #[cfg(feature = "otel")]
        crate::telemetry::trace::inject(&mut envs);
        // Recorded after the publish, not before as `publish` does: a message that was sent
        // before must not be announced again.
        let event = events::wanted().then(|| enqueued(&envs[0]));
        let sent = self.backend.publish_once(envs, ttl).await? > 0;
        if let (true, Some(event)) = (sent, event) {
            events::record(&*self.backend, event);
        }
        Ok(sent)
    }

    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    async fn publish(&self, mut envs: Vec<Envelope>) -> Result<(), Error> {
        // The sender's trace context, so the worker's run continues its trace.
        #[cfg(feature = "otel")]
        crate::telemetry::trace::inject(&mut envs);
        // Recorded before the publish, so that a network backend writes them with it.
        if events::wanted() {
            for env in &envs {
                events::record(&*self.backend, enqueued(env));
            }
        }
        self.backend.publish(envs).await?;
        Ok(())
    }

    /// The workers alive now, as their last heartbeats describe them (see [`WorkerInfo`]): id,
    /// host, pid, queues, concurrency, the tasks they are running, how many they processed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), taskq::Error> {
    /// # #[taskq::task] async fn noop() {}
    /// let client = taskq::Client::memory();
    /// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
    /// # tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    /// let live = client.workers().await?;
    /// assert_eq!(live.len(), 1);
    /// assert_eq!(live[0].pid, std::process::id());
    /// worker.shutdown().await?;
    /// assert!(client.workers().await?.is_empty()); // a warm shutdown removes it at once
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The backend's error ([`BackendError::Unsupported`](crate::BackendError::Unsupported)
    /// for a backend without a worker registry).
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>, Error> {
        Ok(self.backend.workers().await?)
    }

    /// Everything the backend knows of task `id`: state, arguments, attempts, outcome,
    /// progress, times, the worker running it. `None` for an id it does not know.
    ///
    /// # Errors
    /// The backend's error.
    pub async fn inspect(&self, id: TaskId) -> Result<Option<TaskDetail>, Error> {
        Ok(self.backend.inspect(id).await?)
    }

    fn prepare_unique<T: Task>(
        &self,
        call: Call<T>,
    ) -> Result<(Envelope, Option<crate::unique::UniqueKey>), Error> {
        let (mut env, unique) = call.into_unique_envelope()?;
        if let Some(ctx) = Context::current() {
            stamp_parent(&mut env, &ctx);
        }
        Ok((env, unique))
    }

    /// The handle of task `id`, to read its state or await its result, typed as `T`.
    pub fn result<T>(&self, id: TaskId) -> AsyncResult<T> {
        AsyncResult::with_result_kept(self.clone(), id, true)
    }

    /// Revokes task `id`: a task that has not started never will; a running one is told to stop
    /// (its [`Context`] is cancelled) at its worker's next lease extension.
    ///
    /// # Errors
    /// The backend's error.
    pub async fn revoke(&self, id: TaskId) -> Result<CancelOutcome, Error> {
        // What the event names; a running task's worker records its own when it stops it.
        let about = if events::wanted() {
            self.backend.inspect(id).await.ok().flatten()
        } else {
            None
        };
        let mut outcome = self.backend.cancel(id).await?;
        if outcome == CancelOutcome::NotFound {
            // Not queued, delayed or running: a workflow whose last step does not exist yet, or
            // a task not sent yet. Resolve it as cancelled (unless it has a result), so that it
            // never runs and the workflow's remaining steps stand down.
            let failure = TaskFailure::new(FailureKind::Cancelled, "revoked");
            let stored = self
                .backend
                .resolve(
                    id,
                    Outcome::Failure(failure),
                    Some(DEFAULT_RESULT_TTL),
                    None,
                )
                .await;
            if matches!(stored, Ok(true)) {
                outcome = CancelOutcome::Removed;
            }
        }
        if outcome == CancelOutcome::Removed {
            if let Some(d) = about.filter(|d| !d.state.is_final()) {
                let event = Event::new(
                    EventKind::Cancelled,
                    id,
                    d.task.unwrap_or_default(),
                    d.queue.unwrap_or_default(),
                )
                .attempt(d.attempt)
                .failure(FailureKind::Cancelled, "revoked before it started");
                events::record(&*self.backend, event);
            }
        }
        Ok(outcome)
    }
}

fn enqueued(env: &Envelope) -> Event {
    let registry = crate::registry::Registry::global().ok();
    let (task, queue) = events::names(registry, &env.task, &env.queue);
    let mut e = Event::new(EventKind::Enqueued, env.id, task, queue);
    e.at = env.enqueued_at;
    e
}

fn stamp_parent(env: &mut Envelope, ctx: &Context) {
    if env.parent_id.is_none() {
        env.parent_id = Some(ctx.id());
    }
    if env.root_id.is_none() {
        env.root_id = Some(ctx.root_id());
    }
}

/// Sends many tasks of one type in one batch with the current client (see [`Client::send_many`]).
///
/// # Errors
/// As [`Client::send_many`].
pub async fn delay_many<T: Task, C: Into<Call<T>>>(
    calls: impl IntoIterator<Item = C>,
) -> Result<Vec<AsyncResult<T::Output>>, Error> {
    Client::current().await?.send_many(calls).await
}
