//! The worker: fetches tasks, runs them with limits, and records what happened.
//!
//! ```text
//!   fetch loop ── room? ──► fetch(max = room, ≤ 256) ──► register the leases ──► free slot?
//!        ▲     (running + held ≤ concurrency + prefetch)             yes │      no │
//!        │                                                  spawn a runner    held, in fetch
//!        │                                                               │    order (FIFO)
//!        └──── room freed ◄──── runner: decode → run (timeout, panics ◄──┘         │
//!                               caught, cancellable) → outcome → next held task ◄──┘
//!                                   │ success / final failure    │ failure, attempts left
//!                                   ▼                            ▼
//!                          acker: complete(batch)       backend.retry(backoff)
//!   extender: every lease/3, extend every lease held (running or waiting); stop the ones
//!             revoked or lost
//! ```
//!
//!   heartbeat: every interval (5 s), who it is and what it runs, under a TTL of three intervals
//!
//! `taskq::worker::run()` is the whole main of a worker binary. [`Worker::builder`] sets the
//! same things by hand.
//!
//! Shutdown is warm first: stop fetching, hand back the held tasks that have not started, and
//! let running tasks finish within the grace period.
//! Then cold (a second signal, or the grace deadline): stop the running tasks and hand their
//! messages back to the backend, uncounted, for another worker.

mod heartbeat;
mod runner;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backend::{Completion, FetchRequest, LeaseStatus, WorkerInfo};
use crate::client::Client;
use crate::context::Context;
use crate::error::{ConfigError, Error};
use crate::message::{Delivery, IdMap, Lease, Timestamp};
use crate::registry::{Registry, TaskEntry};
use crate::task::Task;

/// Environment variable: the comma-separated queues a worker serves (default: every queue a
/// registered task names).
pub const QUEUES_ENV: &str = "TASKQ_QUEUES";
/// Environment variable: how many tasks a worker runs at once.
pub const CONCURRENCY_ENV: &str = "TASKQ_CONCURRENCY";

/// Environment variable: how many tasks a worker may hold beyond those running.
pub const PREFETCH_ENV: &str = "TASKQ_PREFETCH";

/// How often a worker sends its heartbeat unless configured.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// How many tasks run at once unless configured.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// The most tasks one fetch asks for.
const FETCH_MAX: usize = 256;

/// How long a shutdown waits for the backend to take held tasks back.
const HAND_BACK_WAIT: Duration = Duration::from_secs(5);

/// The most completions waiting for the acker (twice what one acker call records).
const ACK_BACKLOG: usize = 1024;

/// How far a worker is in stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Running.
    No,
    /// Warm: no new tasks; running ones finish within the grace period.
    Warm,
    /// Cold: running tasks are stopped and handed back.
    Cold,
}

/// What a worker did, returned when it stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Tasks that failed for good (and went to the dead-letter queue).
    pub failed: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Poison messages sent to the dead-letter queue (unknown task, undecodable arguments,
    /// too many deliveries).
    pub rejected: u64,
    /// Tasks stopped because they were revoked or their lease was lost.
    pub cancelled: u64,
    /// Tasks handed back at a shutdown: held ones that had not started (warm or cold) and
    /// running ones stopped by a cold shutdown.
    pub released: u64,
}

#[derive(Default)]
struct Counters {
    succeeded: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    rejected: AtomicU64,
    cancelled: AtomicU64,
    released: AtomicU64,
}

impl Counters {
    fn report(&self) -> WorkerReport {
        WorkerReport {
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            released: self.released.load(Ordering::Relaxed),
        }
    }
}

/// Why a running task is being stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Interrupt {
    Revoked = 1,
    LeaseLost = 2,
    Shutdown = 3,
}

impl Interrupt {
    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Interrupt::Revoked),
            2 => Some(Interrupt::LeaseLost),
            3 => Some(Interrupt::Shutdown),
            _ => None,
        }
    }
}

struct Running {
    lease: Lease,
    /// Made when the task starts: a task held for a slot needs none until then (a worker may
    /// hold thousands).
    ctx: Option<Context>,
    /// Why the worker stopped it while it was held (0: it did not); its context gets it when
    /// it starts.
    held_interrupt: AtomicU8,
    /// Its registered name, once it starts (for the heartbeat).
    task: Option<Cow<'static, str>>,
    /// When it started (`None` while held).
    started_at: Option<Timestamp>,
}

/// Free run slots and the held tasks waiting for one, under one lock so that a freed slot and
/// a waiting task always meet. A runner that finishes takes the next waiting task itself.
struct Slots {
    free: usize,
    queue: VecDeque<Held>,
    /// A warm shutdown began: waiting tasks went back, none start any more.
    draining: bool,
}

impl Shared {
    /// The next held task for a runner whose task is done, or `None` (and the slot is free).
    fn next_held(&self) -> Option<Held> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if !slots.draining {
            if let Some(next) = slots.queue.pop_front() {
                return Some(next);
            }
        }
        slots.free += 1;
        None
    }

    /// The context of a held task that is starting, registered with its lease so that the
    /// worker can stop it; a stop that came while the task was held is passed on. A lease no
    /// longer registered (a newer delivery of the task replaced it) counts as lost.
    fn start_context(
        &self,
        env: &crate::message::Envelope,
        entry: Option<&'static TaskEntry>,
        lease: &Lease,
    ) -> Context {
        let name = match entry {
            Some(e) => Cow::Borrowed(e.name),
            None => Cow::Owned(env.task.clone()),
        };
        let ctx = Context::for_delivery(
            env,
            name.clone(),
            lease.clone(),
            self.client.clone(),
            self.worker_id.clone(),
        );
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        match running.get_mut(&lease.id).filter(|r| r.lease == *lease) {
            Some(r) => {
                let why = r.held_interrupt.load(Ordering::SeqCst);
                if why != 0 {
                    ctx.interrupt(why);
                }
                r.ctx = Some(ctx.clone());
                r.task = Some(name);
                r.started_at = Some(Timestamp::now());
            }
            None => ctx.interrupt(Interrupt::LeaseLost as u8),
        }
        ctx
    }
}

/// A fetched task on its way to a run slot, in fetch order.
struct Held {
    delivery: Delivery,
    entry: Option<&'static TaskEntry>,
    /// Its share of the worker's room (running + held), freed when its run is over.
    room: OwnedSemaphorePermit,
}

/// What every runner of one worker shares.
struct Shared {
    client: Client,
    registry: Registry,
    /// Every task this worker holds a lease on: running, or fetched and waiting for a slot.
    running: Mutex<IdMap<Running>>,
    slots: Mutex<Slots>,
    /// To the acker. Bounded: when recording falls behind, runners wait before they free
    /// their room, so a fast worker does not pile up unrecorded completions.
    acks: mpsc::Sender<Completion>,
    counters: Counters,
    /// This worker's id, in its events and heartbeats.
    worker_id: Arc<str>,
    /// What its heartbeats say that does not change.
    about: WorkerInfo,
    /// Its lifecycle hooks.
    hooks: crate::hooks::Hooks,
}

impl Shared {
    fn interrupt_all(&self, why: Interrupt) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for r in running.values() {
            interrupt(r, why);
        }
    }
}

fn interrupt(r: &Running, why: Interrupt) {
    match &r.ctx {
        Some(ctx) => ctx.interrupt(why as u8),
        // The first reason wins, as in the context.
        None => {
            let _ =
                r.held_interrupt
                    .compare_exchange(0, why as u8, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
}

type RegisterFn = fn(&mut Registry) -> Result<(), crate::error::RegistryError>;

/// Builds and starts a worker.
///
/// ```
/// # use std::time::Duration;
/// #[taskq::task(queue = "images")]
/// fn thumbnail(width: u32) -> u32 {
///     width / 4
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder()
///     .client(client.clone())
///     .queues(["images"])
///     .concurrency(8)
///     .grace_period(Duration::from_secs(5))
///     .spawn()?;
/// let h = thumbnail::new(800).delay_on(&client).await?;
/// assert_eq!(h.get().await?, 200);
/// let report = worker.shutdown().await?;
/// assert_eq!(report.succeeded, 1);
/// # Ok(())
/// # }
/// ```
pub struct WorkerBuilder {
    client: Option<Client>,
    registry: Option<Registry>,
    extra: Vec<RegisterFn>,
    queues: Option<Vec<String>>,
    concurrency: usize,
    prefetch: Option<usize>,
    grace: Duration,
    lease: Duration,
    fetch_wait: Duration,
    heartbeat: Duration,
    shutdown: Option<BoxFuture<'static, ()>>,
    log: Option<crate::telemetry::LogFormat>,
    hooks: crate::hooks::Hooks,
    /// The scheduler loop's extra schedules; `None`: no scheduler loop.
    schedules: Option<Vec<crate::schedule::ScheduleSpec>>,
    #[cfg(feature = "prometheus")]
    metrics_addr: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("queues", &self.queues)
            .field("concurrency", &self.concurrency)
            .field("prefetch", &self.prefetch)
            .field("grace", &self.grace)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// The namespace of [`Worker::builder`].
#[derive(Debug)]
pub struct Worker;

impl Worker {
    /// A builder with the defaults: the process-wide client, every registered task, the queues
    /// they name, 64 tasks at once, three times as many prefetched, 30 s grace period, 30 s
    /// leases.
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder {
            client: None,
            registry: None,
            extra: Vec::new(),
            queues: None,
            concurrency: DEFAULT_CONCURRENCY,
            prefetch: None,
            grace: Duration::from_secs(30),
            lease: Duration::from_secs(30),
            fetch_wait: Duration::from_secs(5),
            heartbeat: DEFAULT_HEARTBEAT_INTERVAL,
            shutdown: None,
            log: None,
            hooks: crate::hooks::Hooks::new(),
            schedules: Some(Vec::new()),
            #[cfg(feature = "prometheus")]
            metrics_addr: None,
        }
    }
}

impl WorkerBuilder {
    /// Reads `TASKQ_QUEUES`, `TASKQ_CONCURRENCY`, `TASKQ_PREFETCH`, `TASKQ_LOG`
    /// ([`log_format`](Self::log_format)) and `TASKQ_METRICS_ADDR`
    /// (`metrics_addr`, feature `prometheus`); the client reads `TASKQ_URL`.
    ///
    /// # Errors
    /// [`ConfigError::BadEnv`] for a value that does not parse.
    pub fn from_env(mut self) -> Result<Self, Error> {
        if let Ok(q) = std::env::var(QUEUES_ENV) {
            let queues: Vec<String> = q
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if !queues.is_empty() {
                self.queues = Some(queues);
            }
        }
        if let Ok(c) = std::env::var(CONCURRENCY_ENV) {
            self.concurrency =
                c.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError::BadEnv {
                        name: CONCURRENCY_ENV,
                        value: c.clone(),
                        expected: "a whole number of at least 1",
                    })?;
        }
        if let Ok(p) = std::env::var(PREFETCH_ENV) {
            self.prefetch = Some(p.trim().parse::<usize>().map_err(|_| ConfigError::BadEnv {
                name: PREFETCH_ENV,
                value: p.clone(),
                expected: "a whole number (0 for no prefetch)",
            })?);
        }
        if let Ok(f) = std::env::var(crate::telemetry::LOG_ENV) {
            self.log = Some(f.parse().map_err(|_| ConfigError::BadEnv {
                name: crate::telemetry::LOG_ENV,
                value: f.clone(),
                expected: "`json` or `text`",
            })?);
        }
        if let Ok(a) = std::env::var(crate::telemetry::METRICS_ADDR_ENV) {
            let a = a.trim();
            if !a.is_empty() {
                #[cfg(feature = "prometheus")]
                {
                    self.metrics_addr = Some(a.parse().map_err(|_| ConfigError::BadEnv {
                        name: crate::telemetry::METRICS_ADDR_ENV,
                        value: a.to_owned(),
                        expected:
                            "an IP address and port to serve /metrics on, such as `0.0.0.0:9464`",
                    })?);
                }
                #[cfg(not(feature = "prometheus"))]
                return Err(ConfigError::BadEnv {
                    name: crate::telemetry::METRICS_ADDR_ENV,
                    value: a.to_owned(),
                    expected: "unset: this program was built without taskq's `prometheus` feature",
                }
                .into());
            }
        }
        Ok(self)
    }

    /// Installs a log subscriber writing this format when the worker starts, unless the
    /// program has one ([`init_logs`](crate::telemetry::init_logs)). [`run`] does it with
    /// `TASKQ_LOG`'s format (text unless `json`).
    ///
    /// ```
    /// let builder = taskq::Worker::builder().log_format(taskq::telemetry::LogFormat::Json);
    /// # let _ = builder;
    /// ```
    pub fn log_format(mut self, format: crate::telemetry::LogFormat) -> Self {
        self.log = Some(format);
        self
    }

    /// Serves the Prometheus metrics at `http://ADDR/metrics` while the worker runs (feature
    /// `prometheus`; [`serve_prometheus`](crate::telemetry::serve_prometheus)); port 0 picks a
    /// free port, which [`WorkerHandle::metrics_addr`] tells.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # #[taskq::task] async fn noop() {}
    /// let worker = taskq::Worker::builder()
    ///     .client(taskq::Client::memory())
    ///     .metrics_addr("127.0.0.1:0".parse()?)
    ///     .spawn()?;
    /// assert!(worker.metrics_addr().is_some());
    /// worker.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "prometheus")]
    pub fn metrics_addr(mut self, addr: std::net::SocketAddr) -> Self {
        self.metrics_addr = Some(addr);
        self
    }

    /// The lifecycle hooks to run around each task (none by default); see [`crate::hooks`].
    pub fn hooks(mut self, hooks: crate::hooks::Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// Stores `schedule` at start (idempotently; see [`crate::schedule`]) and runs it with the
    /// rest. Turns the scheduler loop back on if [`scheduler(false)`](Self::scheduler) turned
    /// it off.
    pub fn schedule(mut self, schedule: crate::schedule::ScheduleSpec) -> Self {
        self.schedules.get_or_insert_with(Vec::new).push(schedule);
        self
    }

    /// Whether this worker runs the scheduler loop (default: yes): it stores the schedules
    /// declared with `#[task(cron = ..)]` and [`schedule`](Self::schedule), and claims the
    /// ticks of every stored schedule. Any number of workers may run it.
    pub fn scheduler(mut self, on: bool) -> Self {
        if !on {
            self.schedules = None;
        } else if self.schedules.is_none() {
            self.schedules = Some(Vec::new());
        }
        self
    }

    /// The client to fetch through (default: [`Client::global`]).
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The tasks to serve (default: [`Registry::global`], every `#[task]` linked in).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Serves task `T` too: for a task the linker dropped from the link-time registry.
    pub fn register<T: Task>(mut self) -> Self {
        self.extra.push(|r| r.register::<T>().map(|_| ()));
        self
    }

    /// The queues to serve (default: every queue a registered task names).
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.queues = Some(queues.into_iter().map(Into::into).collect());
        self
    }

    /// How many tasks run at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How many tasks the worker may hold beyond those running: fetched ahead, leased (their
    /// leases kept), each starting in fetch order as soon as a slot frees up. Default: three
    /// times the concurrency, so that a worker holds at most four times its concurrency, as
    /// Celery's default `worker_prefetch_multiplier = 4` does.
    ///
    /// Prefetching hides the round trip to the backend between one task and the next, which
    /// is what bounds a worker of short tasks: on Redis, a worker at concurrency 2 drains
    /// about 15,000 no-op tasks/s with `prefetch(2)` and 50,000 with `prefetch(64)`. For many
    /// short tasks, raise it; for long tasks shared by several workers, `0` is fairer, since a
    /// task held here waits for this worker even when another is idle (Celery's advice of a
    /// multiplier of 1).
    ///
    /// Held tasks count as running in the backend's state and queue statistics (they are
    /// leased). They run in fetch order, so a task of higher priority published after them waits
    /// behind at most `prefetch` of them. A revocation reaches a held task at the worker's next
    /// lease extension (every third of the lease): if it has not started by then, it never
    /// does. A warm shutdown hands held tasks back at once; one held past its `expires` is
    /// discarded as expired rather than started.
    ///
    /// ```
    /// let builder = taskq::Worker::builder().concurrency(4).prefetch(256);
    /// # let _ = builder;
    /// ```
    pub fn prefetch(mut self, n: usize) -> Self {
        self.prefetch = Some(n);
        self
    }

    /// How long running tasks may take to finish after a warm shutdown begins.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long a lease lasts without extension; the worker extends its leases every third of
    /// it. A killed worker's tasks come back after about this long.
    pub fn lease_duration(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// How long one fetch blocks waiting for work before it checks in again.
    pub fn fetch_wait(mut self, wait: Duration) -> Self {
        self.fetch_wait = wait;
        self
    }

    /// How often the worker sends its heartbeat (default 5 s). A worker that stops without a
    /// word drops out of [`Client::workers`] within three intervals.
    ///
    /// ```
    /// let builder = taskq::Worker::builder().heartbeat_interval(std::time::Duration::from_secs(2));
    /// # let _ = builder;
    /// ```
    pub fn heartbeat_interval(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(10));
        self
    }

    /// Begins a warm shutdown when `signal` completes.
    pub fn shutdown_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Some(signal.boxed());
        self
    }

    /// Starts the worker on the current tokio runtime and returns a handle to stop it.
    ///
    /// # Errors
    /// [`Error::Registry`] if two tasks share a name; [`ConfigError::NoQueues`]; a
    /// [`ConfigError::BadEnv`] naming `TASKQ_METRICS_ADDR` if its address cannot be served.
    pub fn spawn(self) -> Result<WorkerHandle, Error> {
        let (stop_tx, stop_rx) = watch::channel(Stop::No);
        let stop_tx = Arc::new(stop_tx);
        let mut prepared = self.prepare()?;
        if let Some(format) = prepared.log {
            crate::telemetry::init_logs(format);
        }
        #[cfg(feature = "prometheus")]
        if let Some(addr) = prepared.metrics_addr {
            let server = crate::telemetry::serve_prometheus(addr).map_err(|e| {
                ConfigError::BadEnv {
                    name: crate::telemetry::METRICS_ADDR_ENV,
                    value: e.to_string(),
                    expected: "a free address to serve /metrics on, such as `0.0.0.0:9464`, and no other `metrics` recorder in the program",
                }
            })?;
            prepared.metrics_server = Some(server);
        }
        #[cfg(feature = "prometheus")]
        let metrics_addr = prepared.metrics_server.as_ref().map(|s| s.local_addr());
        if let Some(signal) = prepared.shutdown.take() {
            let tx = stop_tx.clone();
            tokio::spawn(async move {
                signal.await;
                tx.send_if_modified(|s| raise(s, Stop::Warm));
            });
        }
        let join = tokio::spawn(run_worker(prepared, stop_rx));
        Ok(WorkerHandle {
            stop: stop_tx,
            join,
            #[cfg(feature = "prometheus")]
            metrics_addr,
        })
    }

    /// Runs the worker until its shutdown signal ([`shutdown_on`](Self::shutdown_on)) has
    /// completed and the running tasks are done or handed back.
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
    pub async fn run(self) -> Result<WorkerReport, Error> {
        self.spawn()?.join().await
    }

    fn prepare(mut self) -> Result<Prepared, Error> {
        let mut registry = match self.registry.take() {
            Some(r) => r,
            None => Registry::global()?.clone(),
        };
        for add in &self.extra {
            add(&mut registry)?;
        }
        let queues = match self.queues.take() {
            Some(q) => q,
            None => registry.queues(),
        };
        if queues.is_empty() {
            return Err(ConfigError::NoQueues.into());
        }
        Ok(Prepared {
            client: self.client,
            registry,
            queues,
            settings: Settings {
                // Both bounded so that their sum is a valid semaphore size.
                concurrency: self.concurrency.min(Semaphore::MAX_PERMITS / 2),
                prefetch: self
                    .prefetch
                    .unwrap_or(self.concurrency.saturating_mul(3))
                    .min(Semaphore::MAX_PERMITS / 2),
                grace: self.grace,
                lease: self.lease,
                fetch_wait: self.fetch_wait,
                heartbeat: self.heartbeat,
            },
            shutdown: self.shutdown,
            log: self.log,
            // Link-time hooks (`#[taskq::hook]`) first, then the builder's.
            hooks: self.hooks.with_linked(),
            schedules: self.schedules,
            #[cfg(feature = "prometheus")]
            metrics_addr: self.metrics_addr,
            #[cfg(feature = "prometheus")]
            metrics_server: None,
        })
    }
}

/// A builder's settings, checked.
struct Prepared {
    client: Option<Client>,
    registry: Registry,
    queues: Vec<String>,
    settings: Settings,
    shutdown: Option<BoxFuture<'static, ()>>,
    log: Option<crate::telemetry::LogFormat>,
    hooks: crate::hooks::Hooks,
    schedules: Option<Vec<crate::schedule::ScheduleSpec>>,
    #[cfg(feature = "prometheus")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Serves `/metrics` until the worker stops.
    #[cfg(feature = "prometheus")]
    metrics_server: Option<crate::telemetry::MetricsServer>,
}

fn raise(current: &mut Stop, to: Stop) -> bool {
    if to > *current {
        *current = to;
        true
    } else {
        false
    }
}

#[derive(Clone, Copy, Debug)]
struct Settings {
    concurrency: usize,
    prefetch: usize,
    grace: Duration,
    lease: Duration,
    fetch_wait: Duration,
    heartbeat: Duration,
}

/// A running worker.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: Arc<watch::Sender<Stop>>,
    join: JoinHandle<Result<WorkerReport, Error>>,
    #[cfg(feature = "prometheus")]
    metrics_addr: Option<std::net::SocketAddr>,
}

impl WorkerHandle {
    /// Where the worker serves `/metrics`, if it does ([`WorkerBuilder::metrics_addr`]).
    #[cfg(feature = "prometheus")]
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// Asks the worker to stop, warm or cold; does not wait.
    pub fn signal(&self, stop: Stop) {
        self.stop.send_if_modified(|s| raise(s, stop));
    }

    /// Warm shutdown: stops fetching, lets running tasks finish (handing back whatever is left at
    /// the grace deadline), and waits.
    ///
    /// # Errors
    /// [`Error::WorkerCrashed`] if the worker panicked.
    pub async fn shutdown(self) -> Result<WorkerReport, Error> {
        self.signal(Stop::Warm);
        self.join().await
    }

    /// Cold shutdown: stops running tasks at once, hands them back, and waits.
    ///
    /// # Errors
    /// [`Error::WorkerCrashed`] if the worker panicked.
    pub async fn stop_now(self) -> Result<WorkerReport, Error> {
        self.signal(Stop::Cold);
        self.join().await
    }

    /// Waits for the worker to stop by itself.
    ///
    /// # Errors
    /// [`Error::WorkerCrashed`] if the worker panicked.
    pub async fn join(self) -> Result<WorkerReport, Error> {
        self.join
            .await
            .map_err(|source| Error::WorkerCrashed { source })?
    }
}

/// Runs a worker for every task linked into the binary, configured from the environment
/// (`TASKQ_URL`, `TASKQ_QUEUES`, `TASKQ_CONCURRENCY`, `TASKQ_PREFETCH`), until Ctrl-C or SIGTERM.
/// The first signal begins a warm shutdown; a second one makes it cold.
///
/// It logs to standard error, human-readable or one JSON object per line with `TASKQ_LOG=json`,
/// filtered by `RUST_LOG` (unless the program installed a `tracing` subscriber of its own), and
/// serves Prometheus metrics at `/metrics` when `TASKQ_METRICS_ADDR` is set (feature
/// `prometheus`, on by default). See [`crate::telemetry`].
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), taskq::Error> {
///     taskq::worker::run().await?;
///     Ok(())
/// }
/// ```
///
/// # Errors
/// A configuration error, a duplicate task name, or a backend that cannot be reached at start.
pub async fn run() -> Result<WorkerReport, Error> {
    let mut builder = Worker::builder().from_env()?;
    let format = builder.log.unwrap_or_default();
    builder.log = Some(format);
    // Before connecting, so that a backend that cannot be reached is logged too.
    crate::telemetry::init_logs(format);
    let client = Client::global().await?;
    let handle = builder.client(client.clone()).spawn()?;
    let stop = handle.stop.clone();
    tokio::spawn(async move {
        for level in [Stop::Warm, Stop::Cold] {
            signal().await;
            tracing::info!(?level, "signal received, shutting down");
            stop.send_if_modified(|s| raise(s, level));
        }
    });
    handle.join().await
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run_worker(
    prepared: Prepared,
    mut stop: watch::Receiver<Stop>,
) -> Result<WorkerReport, Error> {
    let Prepared {
        client,
        registry,
        queues,
        settings,
        hooks,
        schedules,
        ..
    } = prepared;
    // The rest of `prepared` (the `/metrics` server among it) lives until the worker stops.
    let client = match client {
        Some(c) => c,
        None => Client::global().await?,
    };
    let backend = client.backend().clone();
    let (ack_tx, ack_rx) = mpsc::channel(ACK_BACKLOG);
    let host = heartbeat::host_name();
    let worker_id: Arc<str> = heartbeat::worker_id(&host).into();
    let mut about = WorkerInfo::new(worker_id.to_string());
    about.host = host;
    about.queues = queues.clone();
    about.concurrency = settings.concurrency;
    about.prefetch = settings.prefetch;
    about.backend = backend.name().to_owned();
    about.heartbeat_interval_ms = u64::try_from(settings.heartbeat.as_millis()).unwrap_or(u64::MAX);
    let shared = Arc::new(Shared {
        client,
        registry,
        // Sized for every task the worker may hold (up to 4,096), so it does not grow (and copy)
        // under load.
        running: Mutex::new(IdMap::with_capacity_and_hasher(
            (settings.concurrency + settings.prefetch).min(FETCH_MAX * 16),
            Default::default(),
        )),
        slots: Mutex::new(Slots {
            free: settings.concurrency,
            queue: VecDeque::new(),
            draining: false,
        }),
        acks: ack_tx,
        counters: Counters::default(),
        hooks,
        worker_id,
        about,
    });
    tracing::info!(
        worker_id = &*shared.worker_id,
        backend = backend.name(),
        queues = ?queues,
        tasks = shared.registry.len(),
        concurrency = settings.concurrency,
        prefetch = settings.prefetch,
        "worker started"
    );

    let acker = tokio::spawn(acker(backend.clone(), ack_rx, backend.batch_linger()));
    let extender_stop = CancellationToken::new();
    let extender = tokio::spawn(extender(
        shared.clone(),
        settings.lease,
        extender_stop.clone(),
    ));
    let heartbeat_stop = CancellationToken::new();
    let heartbeat = tokio::spawn(heartbeat::beat(
        shared.clone(),
        settings.heartbeat,
        heartbeat_stop.clone(),
    ));
    crate::telemetry::metrics::worker_up(true);
    let scheduler_stop = CancellationToken::new();
    let scheduler = schedules.map(|declared| {
        tokio::spawn(
            crate::schedule::runner::Scheduler::with_linked(backend.clone(), declared)
                .run(scheduler_stop.clone()),
        )
    });
    let sampler_stop = CancellationToken::new();
    let sampler = {
        // Weak: the acker stops only when every strong reference to `shared` is gone.
        let weak = Arc::downgrade(&shared);
        let concurrency = settings.concurrency;
        tokio::spawn(crate::telemetry::metrics::sample(
            backend.clone(),
            queues.clone(),
            move || {
                let free = weak.upgrade().map_or(concurrency, |s| {
                    s.slots.lock().unwrap_or_else(|e| e.into_inner()).free
                });
                let idle = free.min(concurrency);
                (concurrency - idle, idle)
            },
            sampler_stop.clone(),
        ))
    };

    // Room for the tasks this worker holds: running, or fetched ahead and waiting for a slot.
    let room = Arc::new(Semaphore::new(settings.concurrency + settings.prefetch));
    let linger = backend.batch_linger();
    let mut busy = false;
    let tracker = TaskTracker::new();
    let mut failures = 0u32;

    'fetching: loop {
        if *stop.borrow() != Stop::No {
            break;
        }
        let first = tokio::select! {
            permit = room.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => continue,
        };
        let mut permits = vec![first];
        while permits.len() < FETCH_MAX {
            match room.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        // Busy (the last fetch came back full): wait a moment for more room, so that one call
        // fetches many tasks rather than one call per freed slot.
        if busy && !linger.is_zero() {
            let target = FETCH_MAX.min(((settings.concurrency + settings.prefetch) / 2).max(1));
            let until = tokio::time::Instant::now() + linger;
            while permits.len() < target {
                match tokio::time::timeout_at(until, room.clone().acquire_owned()).await {
                    Ok(Ok(p)) => permits.push(p),
                    _ => break,
                }
            }
        }
        let request = FetchRequest {
            queues: &queues,
            max: permits.len(),
            lease: settings.lease,
            wait: settings.fetch_wait,
        };
        let fetched = tokio::select! {
            r = backend.fetch(request) => r,
            _ = wait_for(&mut stop, Stop::Warm) => break 'fetching,
        };
        let deliveries = match fetched {
            Ok(d) => {
                if failures > 0 {
                    crate::telemetry::record_backend_reconnect();
                }
                failures = 0;
                d
            }
            Err(e) => {
                crate::telemetry::record_backend_error("fetch");
                failures = failures.saturating_add(1);
                let pause = reconnect_delay(failures);
                tracing::warn!(error = %e, retry_in = ?pause, "fetch failed");
                drop(permits);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = wait_for(&mut stop, Stop::Warm) => break 'fetching,
                }
                continue;
            }
        };
        busy = !deliveries.is_empty() && deliveries.len() >= permits.len();
        let mut deliveries = deliveries;
        if deliveries.len() > permits.len() {
            // A backend that returned more than asked: no room for those, so they go back.
            let extra: Vec<Lease> = deliveries
                .split_off(permits.len())
                .into_iter()
                .map(|d| d.lease)
                .collect();
            tracing::warn!(
                extra = extra.len(),
                "the backend returned more tasks than asked"
            );
            if let Err(e) = backend.release(extra).await {
                tracing::warn!(error = %e, "could not hand back the extra tasks; they return when their leases expire");
            }
        }
        hold(&shared, deliveries, permits, &tracker);
    }

    // No tick is claimed once the worker stops: the other workers' loops claim them.
    scheduler_stop.cancel();
    // Warm: hand back what has not started; let running tasks finish within the grace period,
    // unless told to stop cold.
    hand_back_held(&shared).await;
    tracker.close();
    let warm_done = tokio::select! {
        _ = tracker.wait() => true,
        _ = tokio::time::sleep(settings.grace) => false,
        _ = wait_for(&mut stop, Stop::Cold) => false,
    };
    if !warm_done {
        let left = shared.running.lock().map(|r| r.len()).unwrap_or(0);
        tracing::warn!(
            running = left,
            "cold shutdown: stopping running tasks and handing them back"
        );
        shared.interrupt_all(Interrupt::Shutdown);
        // Runners hand their tasks back as soon as they see the cancellation; a sync task stuck
        // on the blocking pool cannot be stopped, and its lease will expire instead.
        let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    }
    extender_stop.cancel();
    let _ = extender.await;
    if let Some(scheduler) = scheduler {
        let _ = scheduler.await;
    }
    sampler_stop.cancel();
    let _ = sampler.await;
    crate::telemetry::metrics::worker_up(false);
    heartbeat_stop.cancel();
    let _ = tokio::time::timeout(HAND_BACK_WAIT, heartbeat).await;
    let report = shared.counters.report();
    drop(shared);
    // Every runner is done (or abandoned), so the only sender left is gone with `shared`: the
    // acker drains what is queued and stops.
    let _ = tokio::time::timeout(Duration::from_secs(10), acker).await;
    tracing::info!(?report, "worker stopped");
    Ok(report)
}

/// Registers fetched tasks (their leases are now this worker's to keep), then starts those
/// that have a free slot and queues the rest.
fn hold(
    shared: &Arc<Shared>,
    deliveries: Vec<Delivery>,
    rooms: Vec<OwnedSemaphorePermit>,
    tracker: &TaskTracker,
) {
    let mut held = Vec::with_capacity(deliveries.len());
    {
        let mut running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
        for (delivery, room) in deliveries.into_iter().zip(rooms) {
            let env = &delivery.envelope;
            let entry = shared
                .registry
                .get(&env.task)
                .or_else(|| runner::builtin(&env.task));
            running.insert(
                env.id,
                Running {
                    lease: delivery.lease.clone(),
                    ctx: None,
                    held_interrupt: AtomicU8::new(0),
                    task: None,
                    started_at: None,
                },
            );
            held.push(Held {
                delivery,
                entry,
                room,
            });
        }
    }
    let start = {
        let mut slots = shared.slots.lock().unwrap_or_else(|e| e.into_inner());
        let n = slots.free.min(held.len());
        slots.free -= n;
        slots.queue.extend(held.drain(n..));
        held
    };
    for next in start {
        let shared = shared.clone();
        // Boxed: the run's state is large (about 1.5 KB), and a boxed future is cheaper to move
        // into the runtime's task cell than the state itself.
        tracker.spawn(Box::pin(async move {
            runner::run_from(&shared, next).await;
        }));
    }
}

/// At a warm shutdown: hands back every held task that has not started.
async fn hand_back_held(shared: &Shared) {
    let back: Vec<Held> = {
        let mut slots = shared.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.draining = true;
        slots.queue.drain(..).collect()
    };
    if back.is_empty() {
        return;
    }
    tracing::info!(
        held = back.len(),
        "shutdown: handing back tasks that had not started"
    );
    let leases: Vec<Lease> = back.iter().map(|h| h.delivery.lease.clone()).collect();
    {
        let mut running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
        for lease in &leases {
            if running.get(&lease.id).is_some_and(|r| r.lease == *lease) {
                running.remove(&lease.id);
            }
        }
    }
    let n = leases.len() as u64;
    let release = shared.client.backend().release(leases);
    match tokio::time::timeout(HAND_BACK_WAIT, release).await {
        Ok(Ok(_)) => {
            shared.counters.released.fetch_add(n, Ordering::Relaxed);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not hand back held tasks; they return when their leases expire")
        }
        Err(_) => {
            tracing::warn!(
                "handing back held tasks timed out; they return when their leases expire"
            )
        }
    }
}

async fn wait_for(stop: &mut watch::Receiver<Stop>, level: Stop) {
    // An error means the sender is gone: nobody can stop us any more, so never complete.
    if stop.wait_for(|s| *s >= level).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn reconnect_delay(failures: u32) -> Duration {
    crate::message::Backoff {
        base_ms: 50,
        cap_ms: 5_000,
        jitter: true,
    }
    .delay(failures)
    .max(Duration::from_millis(10))
}

/// Records completions in batches: whatever finished while the previous batch was being written
/// goes in the next one.
async fn acker(
    backend: Arc<dyn crate::backend::Backend>,
    mut rx: mpsc::Receiver<Completion>,
    linger: Duration,
) {
    // 128, not more: a batch four times larger measured no faster on Redis, and its command
    // buffers set the worker's peak memory (0.3 MiB more resident at 512).
    const MAX: usize = 128;
    let mut batch = Vec::with_capacity(MAX);
    let mut last = 0usize;
    while rx.recv_many(&mut batch, MAX).await > 0 {
        // Under load (the previous batch had company), let more completions arrive before
        // paying for a call.
        if !linger.is_zero() && last > 1 && batch.len() < 64 {
            tokio::time::sleep(linger).await;
            while batch.len() < MAX {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
        }
        last = batch.len();
        let mut failures = 0u32;
        loop {
            match backend.complete(&batch).await {
                Ok(_) => break,
                Err(e) => {
                    crate::telemetry::record_backend_error("complete");
                    failures += 1;
                    // The leases keep the tasks safe: if we never get through, they are
                    // redelivered after the lease expires.
                    if failures > 40 {
                        tracing::error!(error = %e, lost = batch.len(), "giving up on recording results; the tasks will be redelivered");
                        break;
                    }
                    let pause = reconnect_delay(failures);
                    tracing::warn!(error = %e, retry_in = ?pause, "recording results failed");
                    tokio::time::sleep(pause).await;
                }
            }
        }
        batch.clear();
    }
}

/// Extends the leases of every task the worker holds (running or waiting for a slot) once per
/// third of the lease, and stops the ones that were revoked or whose lease is lost.
async fn extender(shared: Arc<Shared>, lease: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let leases: Vec<Lease> = {
            let running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
            running.values().map(|r| r.lease.clone()).collect()
        };
        if leases.is_empty() {
            continue;
        }
        match shared.client.backend().extend(&leases, lease).await {
            Ok(statuses) => {
                let running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
                for (lease, status) in leases.iter().zip(statuses) {
                    let why = match status {
                        LeaseStatus::Held => continue,
                        LeaseStatus::Cancelled => Interrupt::Revoked,
                        _ => Interrupt::LeaseLost,
                    };
                    if let Some(r) = running.get(&lease.id).filter(|r| r.lease == *lease) {
                        // Counted once: a sync task that cannot stop stays here for a while.
                        let first = match &r.ctx {
                            Some(ctx) => ctx.interrupted() == 0,
                            None => r.held_interrupt.load(Ordering::SeqCst) == 0,
                        };
                        if first && why == Interrupt::LeaseLost {
                            let task = r.task.as_deref().unwrap_or("unknown");
                            crate::telemetry::metrics::lease_lost(task, &lease.queue);
                        }
                        interrupt(r, why);
                    }
                }
            }
            Err(e) => {
                crate::telemetry::record_backend_error("extend");
                tracing::warn!(error = %e, "extending leases failed")
            }
        }
    }
}
