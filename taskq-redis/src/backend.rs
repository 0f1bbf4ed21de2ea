//! [`RedisBackend`]: the [`Backend`] trait on Redis.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, ScriptInvocation, Value};
use taskq::backend::{Backend, CancelOutcome, Completion, FetchRequest, LeaseStatus, QueueStats};
use taskq::{
    BackendError, DeadLetter, DeadLetterReason, Delivery, Envelope, FailureKind, Lease, Outcome,
    Payload, TaskFailure, TaskId, TaskRecord, TaskState, Timestamp,
};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::codec::{self, IdText, StoredResult};
use crate::conn::{self, command_error, corrupt, BACKEND};
use crate::keys::{self, QueueKeys};
use crate::notify::{Mark, Notifier};
use crate::scripts;

/// The key prefix unless configured: keys look like `{taskq:emails}:env`.
pub const DEFAULT_PREFIX: &str = "taskq";

/// How long commands keep retrying through a connection loss unless configured.
pub const DEFAULT_RECONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How many task ids (with their queue) an instance remembers from its own publishes, to find
/// a task by id without asking every queue.
const ID_CACHE: usize = 100_000;

/// A busy worker reclaims expired leases and promotes due tasks at most this often (a fetch
/// that finds nothing ready always does both).
const TIMER_CHECK: Duration = Duration::from_millis(20);

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

/// Configures and connects a [`RedisBackend`].
#[derive(Clone, Debug)]
#[must_use = "call `.connect().await`"]
pub struct RedisBackendBuilder {
    url: String,
    prefix: Option<String>,
    patience: Duration,
}

impl RedisBackendBuilder {
    /// Prefixes every key (default [`DEFAULT_PREFIX`]), so that two applications can share one
    /// Redis. The URL's `?prefix=` parameter sets it too; this call wins.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// How long a command keeps retrying while the connection is lost before it fails with
    /// [`BackendError::Unavailable`] (default 30 s).
    pub fn reconnect_timeout(mut self, timeout: Duration) -> Self {
        self.patience = timeout;
        self
    }

    /// Connects, and checks that the server is Redis 7.0 or newer.
    ///
    /// # Errors
    /// [`BackendError::InvalidUrl`] for a URL the `redis` crate does not accept (or a server
    /// too old); [`BackendError::Unavailable`], naming the URL without its password, when the
    /// server cannot be reached.
    pub async fn connect(self) -> Result<RedisBackend, BackendError> {
        let shown = conn::redact(&self.url);
        let (url, url_prefix) = split_prefix(&self.url);
        let prefix = self
            .prefix
            .or(url_prefix)
            .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(BackendError::InvalidUrl {
                backend: BACKEND,
                url: shown,
                detail: format!("the key prefix `{prefix}` must be non-empty, without braces"),
            });
        }
        let client = redis::Client::open(url.as_str()).map_err(|e| BackendError::InvalidUrl {
            backend: BACKEND,
            url: shown.clone(),
            detail: e.to_string(),
        })?;
        let shared = conn::Shared::connect(client.clone(), shown.clone(), self.patience).await?;
        let info: String = shared
            .run(|mut c| async move { redis::cmd("INFO").arg("server").query_async(&mut c).await })
            .await?;
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("0")
            .trim()
            .to_owned();
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major < 7 {
            return Err(BackendError::InvalidUrl {
                backend: BACKEND,
                url: shown,
                detail: format!(
                    "the server runs Redis {version}; taskq-redis needs Redis 7.0 or newer"
                ),
            });
        }
        // Outcomes of tasks found in no queue (`resolve`) live under a queue of their own, which
        // lookups by id search like any other.
        let queues_key = keys::queues_key(&prefix);
        shared
            .run(|mut c| {
                let queues_key = queues_key.clone();
                async move {
                    redis::cmd("SADD")
                        .arg(queues_key)
                        .arg(keys::RESOLVED_QUEUE)
                        .query_async::<i64>(&mut c)
                        .await
                }
            })
            .await?;
        let channel = keys::reply_channel(&prefix);
        Ok(RedisBackend {
            inner: Arc::new(Inner {
                notifier: Notifier::new(client.clone(), channel),
                client,
                shared,
                prefix,
                blocking: tokio::sync::Mutex::new(None),
                known_queues: Mutex::new(HashSet::new()),
                ids: Mutex::new(IdCache::default()),
                publisher: Mutex::new(PublishQueue::default()),
                timers_checked: Mutex::new(None),
            }),
        })
    }
}

/// Takes `prefix=...` out of the URL's query.
fn split_prefix(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut prefix = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("prefix=") {
            Some(p) => {
                prefix = Some(p.to_owned());
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    if rest.is_empty() {
        (base.to_owned(), prefix)
    } else {
        (format!("{base}?{}", rest.join("&")), prefix)
    }
}

impl RedisBackend {
    /// A builder for the server at `url` (`redis://[:password@]host[:port][/db][?prefix=name]`).
    pub fn builder(url: impl Into<String>) -> RedisBackendBuilder {
        RedisBackendBuilder {
            url: url.into(),
            prefix: None,
            patience: DEFAULT_RECONNECT_TIMEOUT,
        }
    }

    /// Connects to `url` with the defaults.
    ///
    /// # Errors
    /// As [`RedisBackendBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        Self::builder(url).connect().await
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The channel this instance's waiters are told on; stamped into the `reply_to` of every
    /// message it publishes without one whose result is kept.
    pub fn reply_channel(&self) -> &str {
        self.inner.notifier.channel()
    }

    /// The hash tag every key of `queue` starts with (`{prefix:queue}`): for inspecting a
    /// queue with `redis-cli`.
    pub fn queue_tag(&self, queue: &str) -> String {
        format!("{{{}:{queue}}}", self.inner.prefix)
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
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Ids this instance published: their queue, and, when their reply channel is ours, where the
/// subscription stood when they were sent.
#[derive(Default)]
struct IdCache {
    map: HashMap<TaskId, Sent>,
    order: VecDeque<TaskId>,
}

#[derive(Clone)]
struct Sent {
    queue: Arc<str>,
    ours: bool,
    mark: Option<Mark>,
}

impl IdCache {
    fn insert(&mut self, id: TaskId, sent: Sent) {
        if self.map.insert(id, sent).is_none() {
            self.order.push_back(id);
            if self.order.len() > ID_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// Publishes waiting for the next pipeline: concurrent publishes coalesce into one.
#[derive(Default)]
struct PublishQueue {
    pending: Vec<PendingPublish>,
    flushing: bool,
}

struct PendingPublish {
    items: Vec<Prepared>,
    done: oneshot::Sender<Result<(), BackendError>>,
}

/// A message on its way out, encoded.
struct Prepared {
    id: IdText,
    queue: Arc<str>,
    attempt: u32,
    priority: u8,
    due: Option<u64>,
    blob: String,
}

/// A publish written from its caller's task; when it ends (or its future is dropped), the
/// publishes that queued up meanwhile go to a flusher task.
struct InlineWrite<'a>(&'a Arc<Inner>);

impl Drop for InlineWrite<'_> {
    fn drop(&mut self) {
        let mut q = lock(&self.0.publisher);
        if q.pending.is_empty() {
            q.flushing = false;
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            drop(q);
            rt.spawn(self.0.clone().flush());
        } else {
            // Dropped outside a runtime: nothing can write the waiting publishes.
            q.flushing = false;
            for p in std::mem::take(&mut q.pending) {
                let _ = p.done.send(Err(BackendError::Closed(BACKEND)));
            }
        }
    }
}

/// The same error again, for every publisher of a failed batch.
fn duplicate(e: &BackendError) -> BackendError {
    let text: taskq::BoxError = e.to_string().into();
    match e {
        BackendError::Unavailable { url, .. } => BackendError::Unavailable {
            backend: BACKEND,
            url: url.clone(),
            source: text,
        },
        BackendError::Closed(b) => BackendError::Closed(b),
        _ => BackendError::Command {
            backend: BACKEND,
            source: text,
        },
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// When a result kept for `ttl` expires, in ms as the scripts take it (empty: keep none).
fn expiry(ttl: Option<Duration>) -> String {
    ttl.map_or_else(String::new, |t| {
        Timestamp::now()
            .after(t.max(Duration::from_millis(1)))
            .as_millis()
            .to_string()
    })
}

fn encode_error(what: &str, e: serde_json::Error) -> BackendError {
    BackendError::Command {
        backend: BACKEND,
        source: format!("could not encode {what}: {e}").into(),
    }
}

fn outcome_json(outcome: &Outcome) -> Result<String, BackendError> {
    serde_json::to_string(outcome).map_err(|e| encode_error("an outcome", e))
}

/// The outcome as stored (`{"outcome":..}`) and as announced (`{"id":..,"outcome":..}`),
/// rendered here so the scripts only move strings.
fn rendered(id: &str, outcome: &Outcome) -> Result<(String, String), BackendError> {
    let o = outcome_json(outcome)?;
    let id = serde_json::to_string(id).map_err(|e| encode_error("an id", e))?;
    Ok((
        format!("{{\"outcome\":{o}}}"),
        format!("{{\"id\":{id},\"outcome\":{o}}}"),
    ))
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

/// A stored outcome (`<expires ms>|<json>`), unless its expiry has passed.
fn live_result(stored: Value) -> Option<String> {
    let stored = text(stored)?;
    let (expires, _) = stored.split_once('|')?;
    (expires.parse::<u64>().ok()? > Timestamp::now().as_millis()).then_some(stored)
}

/// Decodes a stored outcome, `<expires ms>|<json>`.
fn decode_result(key: &str, stored: &str) -> Result<StoredResult, BackendError> {
    let json = stored
        .split_once('|')
        .map(|(_, json)| json)
        .ok_or_else(|| corrupt(key, "stored result without its expiry"))?;
    serde_json::from_str(json).map_err(|e| corrupt(key, format!("stored result: {e}")))
}

/// What one run of the fetch script gave.
struct Round {
    deliveries: Vec<Delivery>,
    next_wake: Option<Duration>,
    popped: usize,
}

/// A fetch round on its way to the fetch that asked for it. If nobody takes it out (the fetch
/// was dropped, even after the channel accepted it), dropping it hands its leases back.
struct Unclaimed {
    round: Option<Round>,
    inner: Arc<Inner>,
}

impl Unclaimed {
    fn take(mut self) -> Option<Round> {
        self.round.take()
    }
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        let Some(round) = self.round.take() else {
            return;
        };
        if round.deliveries.is_empty() {
            return;
        }
        let leases: Vec<Lease> = round.deliveries.into_iter().map(|d| d.lease).collect();
        let inner = self.inner.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = inner.release(leases).await {
                    tracing::warn!(error = %e, "could not hand back an abandoned fetch; its leases will expire");
                }
            });
        }
    }
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

    // ---- publish --------------------------------------------------------------------------

    /// Stamps this instance's reply channel into messages without one whose result is kept,
    /// remembers where those go, and renders every message as stored.
    fn prepare(&self, batch: Vec<Envelope>) -> Vec<Prepared> {
        let inner = self;
        let now = Timestamp::now();
        let mut items = Vec::with_capacity(batch.len());
        let mut any_ours = false;
        let mark = inner.notifier.mark();
        // A batch is mostly for one queue: one shared name.
        let mut last_queue: Option<Arc<str>> = None;
        {
            let mut ids = lock(&inner.ids);
            for mut env in batch {
                let queue = match &last_queue {
                    Some(q) if **q == *env.queue => q.clone(),
                    _ => last_queue.insert(Arc::from(env.queue.as_str())).clone(),
                };
                // A result that is not kept has no waiter: its message names no reply channel
                // (none is told) and its id is not remembered (the cache is for waiting).
                if env.result_ttl_ms.is_some() {
                    let ours = env.reply_to.is_none();
                    if ours {
                        env.reply_to = Some(inner.notifier.channel().to_owned());
                        any_ours = true;
                    }
                    ids.insert(
                        env.id,
                        Sent {
                            queue: queue.clone(),
                            ours,
                            mark: mark.filter(|_| ours),
                        },
                    );
                }
                items.push(Prepared {
                    id: IdText::new(env.id),
                    queue,
                    attempt: env.attempt,
                    priority: env.priority,
                    due: env.eta.filter(|eta| *eta > now).map(Timestamp::as_millis),
                    blob: codec::encode_message(&env),
                });
            }
        }
        if any_ours {
            // Subscribe now, so the result of a quick task finds the subscription in place.
            inner.notifier.ensure_listening();
        }
        items
    }

    /// Adds queue names this instance has not registered yet to the set of queues.
    async fn register_queues<'q>(
        &self,
        queues: impl Iterator<Item = &'q str>,
    ) -> Result<(), BackendError> {
        let new: Vec<String> = {
            let known = lock(&self.known_queues);
            queues
                .filter(|q| !known.contains(*q))
                .map(str::to_owned)
                .collect()
        };
        if new.is_empty() {
            return Ok(());
        }
        self.command::<i64>(
            redis::cmd("SADD")
                .arg(keys::queues_key(&self.prefix))
                .arg(&new),
        )
        .await?;
        lock(&self.known_queues).extend(new);
        Ok(())
    }

    async fn publish_once(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, BackendError> {
        let items = self.prepare(batch);
        let mut groups: HashMap<&str, Vec<&Prepared>> = HashMap::new();
        for item in &items {
            groups.entry(&item.queue).or_default().push(item);
        }
        self.register_queues(groups.keys().copied()).await?;
        let mut published = 0usize;
        for (queue, items) in groups {
            let k = self.keys(queue);
            for chunk in items.chunks(CHUNK) {
                let mut inv = scripts::PUBLISH_ONCE.prepare_invoke();
                inv.key(k.env()).key(k.wake()).key(k.delayed());
                for r in k.ready_all() {
                    inv.key(r);
                }
                inv.key(k.attempt()).key(k.denv()).arg(ms(ttl).max(1));
                for item in chunk {
                    inv.key(k.once(item.id.as_str()))
                        .arg(item.id)
                        .arg(item.priority.min(9))
                        .arg(item.due.map(|d| d.to_string()).unwrap_or_default())
                        .arg(&item.blob)
                        .arg(if item.attempt > 0 {
                            item.attempt.to_string()
                        } else {
                            String::new()
                        });
                }
                let n: i64 = self.eval(&inv).await?;
                published += usize::try_from(n).unwrap_or(0);
            }
        }
        Ok(published)
    }

    async fn write_publish<'a>(
        &self,
        items: impl Iterator<Item = &'a Prepared>,
    ) -> Result<(), BackendError> {
        let mut groups: HashMap<&str, Vec<&Prepared>> = HashMap::new();
        for item in items {
            groups.entry(&item.queue).or_default().push(item);
        }
        let new_queues: Vec<String> = {
            let known = lock(&self.known_queues);
            groups
                .keys()
                .filter(|q| !known.contains(**q))
                .map(|q| (*q).to_owned())
                .collect()
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !new_queues.is_empty() {
            pipe.cmd("SADD")
                .arg(keys::queues_key(&self.prefix))
                .arg(&new_queues)
                .ignore();
        }
        for (queue, items) in &groups {
            let k = self.keys(queue);
            // Messages not due yet wait in `denv`; the fetch moves them to `env` when due.
            for (due, key) in [(false, k.env()), (true, k.denv())] {
                let (mut count, mut bytes) = (0, 0);
                for item in items.iter().filter(|i| i.due.is_some() == due) {
                    count += 2;
                    bytes += 36 + item.blob.len();
                }
                if count == 0 {
                    continue;
                }
                // Sized up front: a batch of 1,000 messages is some 300 KB, grown by doubling
                // otherwise.
                let mut hset = redis::Cmd::with_capacity(count + 2, bytes + key.len() + 4);
                hset.arg("HSET").arg(&key);
                for item in items.iter().filter(|i| i.due.is_some() == due) {
                    hset.arg(item.id).arg(&item.blob);
                }
                pipe.add_command(hset).ignore();
            }
            let counted: Vec<&&Prepared> = items.iter().filter(|i| i.attempt > 0).collect();
            if !counted.is_empty() {
                let h = pipe.cmd("HSET").arg(k.attempt());
                for item in counted {
                    h.arg(item.id).arg(item.attempt);
                }
                h.ignore();
            }
            let mut ready: [Vec<IdText>; 10] = Default::default();
            let mut delayed: Vec<(u64, IdText)> = Vec::new();
            for item in items {
                match item.due {
                    Some(due) => delayed.push((due, item.id)),
                    None => ready[usize::from(item.priority.min(9))].push(item.id),
                }
            }
            for (p, ids) in ready.iter().enumerate() {
                if !ids.is_empty() {
                    pipe.cmd("RPUSH").arg(k.ready(p as u8)).arg(ids).ignore();
                }
            }
            if !delayed.is_empty() {
                let z = pipe.cmd("ZADD").arg(k.delayed());
                for (due, id) in &delayed {
                    z.arg(*due).arg(*id);
                }
                z.ignore();
            }
            pipe.cmd("RPUSH").arg(k.wake()).arg("1").ignore();
            pipe.cmd("LTRIM").arg(k.wake()).arg(0).arg(0).ignore();
        }
        self.query::<()>(&pipe).await?;
        if !new_queues.is_empty() {
            lock(&self.known_queues).extend(new_queues);
        }
        Ok(())
    }

    async fn flush(self: Arc<Self>) {
        loop {
            let batch = {
                let mut q = lock(&self.publisher);
                if q.pending.is_empty() {
                    q.flushing = false;
                    return;
                }
                std::mem::take(&mut q.pending)
            };
            let result = self
                .write_publish(batch.iter().flat_map(|p| &p.items))
                .await;
            for p in batch {
                let r = match &result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(duplicate(e)),
                };
                let _ = p.done.send(r);
            }
        }
    }

    // ---- fetch ----------------------------------------------------------------------------

    async fn fetch_round(
        self: &Arc<Self>,
        queues: &[String],
        max: usize,
        lease: Duration,
    ) -> Result<Round, BackendError> {
        let mut inv = scripts::FETCH.prepare_invoke();
        for q in queues {
            let k = self.keys(q);
            inv.key(k.env())
                .key(k.lease())
                .key(k.delayed())
                .key(k.wake())
                .key(k.dead());
            for r in k.ready_all() {
                inv.key(r);
            }
            inv.key(k.results())
                .key(k.expiry())
                .key(k.attempt())
                .key(k.denv());
        }
        let check_timers = {
            let mut last = lock(&self.timers_checked);
            let due = last.is_none_or(|t| t.elapsed() >= TIMER_CHECK);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        inv.arg(max)
            .arg(ms(lease).max(1))
            .arg(queues.len())
            .arg(Timestamp::now().as_millis())
            .arg(u8::from(check_timers));
        let values: Vec<Value> = self.eval(&inv).await?;
        let mut it = values.into_iter();
        let next = it.next().as_ref().and_then(int).unwrap_or(-1);
        let popped = it.next().as_ref().and_then(int).unwrap_or(0);
        // (queue, id, attempt) of every lease taken.
        let mut leased: Vec<(&String, String, u32)> = Vec::new();
        while let (Some(q), Some(id), Some(att)) = (it.next(), it.next(), it.next()) {
            let queue = int(&q)
                .and_then(|i| usize::try_from(i - 1).ok())
                .and_then(|i| queues.get(i))
                .ok_or_else(|| corrupt("fetch", "the fetch script named no queue"))?;
            let id = text(id).unwrap_or_default();
            // The script returns the count of deliveries over before this one.
            let attempt = int(&att)
                .and_then(|a| u32::try_from(a).ok())
                .unwrap_or(0)
                .saturating_add(1);
            leased.push((queue, id, attempt));
        }
        let blobs = match self.read_messages(&leased).await {
            Ok(blobs) => blobs,
            Err(e) => {
                // Hand the leases back rather than leave them to expire (which would count an
                // attempt); if the server is gone, that fails too and they expire.
                let leases = leased
                    .iter()
                    .filter_map(|(queue, id, attempt)| {
                        Some(Lease {
                            id: id.parse().ok()?,
                            queue: (*queue).clone(),
                            attempt: *attempt,
                        })
                    })
                    .collect();
                if let Err(release) = self.release(leases).await {
                    tracing::debug!(error = %release, "could not hand back leases after a failed read");
                }
                return Err(e);
            }
        };
        let mut deliveries = Vec::new();
        let mut expired = Vec::new();
        let mut vanished: HashMap<&str, Vec<(&str, u32)>> = HashMap::new();
        let now = Timestamp::now();
        for ((queue, id, attempt), blob) in leased.iter().zip(blobs) {
            let (queue, attempt) = (*queue, *attempt);
            let Some(blob) = blob else {
                vanished
                    .entry(queue.as_str())
                    .or_default()
                    .push((id.as_str(), attempt));
                continue;
            };
            let id = id.as_str();
            let Some(header) = codec::parse_message(&blob) else {
                let detail =
                    "the message is not a taskq message: it has no `priority|channel|` header";
                self.after_lease(self.bury(queue, id, attempt, detail).await);
                continue;
            };
            match serde_json::from_str::<Envelope>(header.json) {
                Ok(mut env) if env.id.to_string() == id => {
                    env.attempt = attempt;
                    env.queue.clone_from(queue);
                    if env.is_expired_at(now) {
                        let failure = TaskFailure::new(
                            FailureKind::Expired,
                            "the task expired before a worker started it",
                        );
                        expired.push(Completion {
                            lease: Delivery::new(env.clone()).lease,
                            outcome: Outcome::Failure(failure),
                            result_ttl: env.result_ttl(),
                            reply_to: env.reply_to.clone(),
                        });
                    } else {
                        deliveries.push(Delivery::new(env));
                    }
                }
                Ok(env) => {
                    let detail = format!(
                        "the message stored under id `{id}` is the envelope of task {}",
                        env.id
                    );
                    self.after_lease(self.bury(queue, id, attempt, &detail).await);
                }
                Err(e) => {
                    let detail = format!("the message is not a taskq envelope: {e}");
                    self.after_lease(self.bury(queue, id, attempt, &detail).await);
                }
            }
        }
        for (queue, items) in vanished {
            let k = self.keys(queue);
            let mut inv = scripts::VANISHED.prepare_invoke();
            inv.key(k.env())
                .key(k.lease())
                .key(k.dead())
                .key(k.attempt())
                .key(k.cancel())
                .key(k.denv())
                .arg(Timestamp::now().as_millis());
            for (id, attempt) in items {
                inv.arg(id).arg(attempt);
            }
            self.after_lease(self.eval::<i64>(&inv).await.map(drop));
        }
        if !expired.is_empty() {
            self.after_lease(self.complete(&expired).await.map(drop));
        }
        Ok(Round {
            deliveries,
            next_wake: u64::try_from(next).ok().map(Duration::from_millis),
            popped: usize::try_from(popped).unwrap_or(0),
        })
    }

    /// A failed step after the fetch took its leases (burying a malformed message, dropping a
    /// vanished one, failing an expired one) is logged, not returned: the round's good
    /// deliveries must reach the worker, and what failed is retried when its lease expires.
    fn after_lease(&self, result: Result<(), BackendError>) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "a fetch could not settle a malformed, vanished or expired task; its lease will expire");
        }
    }

    /// The stored messages of leased ids, in order (`None`: gone), one `HMGET` per queue in one
    /// round trip: outside the fetch script, where each message would be copied into Lua and
    /// back.
    async fn read_messages(
        &self,
        leased: &[(&String, String, u32)],
    ) -> Result<Vec<Option<String>>, BackendError> {
        if leased.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        let mut start = 0;
        while start < leased.len() {
            let queue = leased[start].0;
            let end = leased[start..]
                .iter()
                .position(|l| l.0 != queue)
                .map_or(leased.len(), |n| start + n);
            let hmget = pipe.cmd("HMGET").arg(self.keys(queue).env());
            for l in &leased[start..end] {
                hmget.arg(&l.1);
            }
            start = end;
        }
        let replies: Vec<Vec<Value>> = self.query(&pipe).await?;
        // Bytes that are not UTF-8 are kept (lossily) so that the message is buried, not lost.
        Ok(replies
            .into_iter()
            .flatten()
            .map(|v| match v {
                Value::Nil => None,
                Value::BulkString(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                other => text(other),
            })
            .collect())
    }

    async fn bury(
        &self,
        queue: &str,
        id: &str,
        attempt: u32,
        detail: &str,
    ) -> Result<(), BackendError> {
        tracing::warn!(%queue, %id, %detail, "dead-lettering a malformed message");
        let k = self.keys(queue);
        let (stored, entry) = rendered(id, &Outcome::Failure(codec::malformed_failure(detail)))?;
        let mut inv = scripts::BURY.prepare_invoke();
        k.dead_letter_keys(&mut inv);
        inv.arg(id)
            .arg(attempt)
            .arg(expiry(Some(taskq::DEFAULT_RESULT_TTL)))
            .arg(stored)
            .arg(entry)
            .arg(Timestamp::now().as_millis());
        self.eval::<i64>(&inv).await?;
        Ok(())
    }

    /// Blocks on the queues' wake lists for up to `wait` on the dedicated connection.
    async fn block(&self, queues: &[String], wait: Duration) {
        let Ok(mut guard) = tokio::time::timeout(wait, self.blocking.lock()).await else {
            return;
        };
        if guard.is_none() {
            match conn::blocking_connection(&self.client).await {
                Ok(c) => *guard = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "no blocking connection");
                    drop(guard);
                    tokio::time::sleep(wait.min(Duration::from_millis(100))).await;
                    return;
                }
            }
        }
        // If this future is dropped mid-wait, the connection goes too: a BLPOP left pending on
        // it would delay the next one.
        let mut slot = BlockingSlot { guard, done: false };
        let Some(conn) = slot.guard.as_mut() else {
            return;
        };
        let millis = ms(wait).max(1);
        let mut cmd = redis::cmd("BLPOP");
        for q in queues {
            cmd.arg(self.keys(q).wake());
        }
        cmd.arg(format!("{}.{:03}", millis / 1000, millis % 1000));
        let reply = tokio::time::timeout(
            wait + Duration::from_secs(2),
            cmd.query_async::<Option<(String, String)>>(conn),
        )
        .await;
        match reply {
            Ok(Ok(_)) => slot.done = true,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "blocking wait failed; reconnecting");
                *slot.guard = None;
                slot.done = true;
                tokio::time::sleep(wait.min(Duration::from_millis(50))).await;
            }
            Err(_) => {
                *slot.guard = None;
                slot.done = true;
            }
        }
    }

    // ---- leases ---------------------------------------------------------------------------

    async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, BackendError> {
        let mut accepted = vec![false; batch.len()];
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, c) in batch.iter().enumerate() {
            groups.entry(c.lease.queue.as_str()).or_default().push(i);
        }
        for (queue, idx) in groups {
            let k = self.keys(queue);
            for chunk in idx.chunks(CHUNK) {
                if self.complete_fast(&k, batch, chunk).await? {
                    for &i in chunk {
                        accepted[i] = true;
                    }
                    continue;
                }
                let mut inv = scripts::COMPLETE.prepare_invoke();
                k.complete_keys(&mut inv);
                for &i in chunk {
                    let c = &batch[i];
                    let id = c.lease.id.to_string();
                    let (stored, entry) = rendered(&id, &c.outcome)?;
                    inv.arg(id)
                        .arg(c.lease.attempt.saturating_sub(1))
                        .arg(expiry(c.result_ttl))
                        .arg(stored)
                        .arg(entry)
                        .arg(c.reply_to.as_deref().unwrap_or(""));
                }
                let oks: Vec<i64> = self.eval(&inv).await?;
                for (&i, ok) in chunk.iter().zip(oks) {
                    accepted[i] = ok == 1;
                }
            }
        }
        Ok(accepted)
    }

    /// The batch through `complete_fast.lua`: `Ok(false)` if it must go item by item (a lease
    /// not current, a revocation, progress or foreign waiter pending, an id twice).
    async fn complete_fast(
        &self,
        k: &keys::QueueKeys,
        batch: &[Completion],
        chunk: &[usize],
    ) -> Result<bool, BackendError> {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut seen = std::collections::HashSet::with_capacity(chunk.len());
        for &i in chunk {
            let id = batch[i].lease.id;
            if !seen.insert(id) {
                return Ok(false);
            }
            ids.push(IdText::new(id));
        }
        // Rendered straight into the script's arguments (the same text as `rendered`: an id
        // needs no JSON escaping): one allocation for the outcome and one for the stored
        // result per task.
        let mut results: Vec<(IdText, String)> = Vec::new();
        // One expiry entry per result TTL in the batch: (ttl, expires ms, ids).
        let mut groups: Vec<(Duration, String, String)> = Vec::new();
        let mut channels: Vec<(&str, String)> = Vec::new();
        for (&i, id) in chunk.iter().zip(&ids) {
            let c = &batch[i];
            let o = outcome_json(&c.outcome)?;
            if let Some(ttl) = c.result_ttl {
                let at = match groups.iter().position(|g| g.0 == ttl) {
                    Some(at) => {
                        groups[at].2.push(' ');
                        at
                    }
                    None => {
                        groups.push((ttl, expiry(Some(ttl)), String::new()));
                        groups.len() - 1
                    }
                };
                let (_, expires, members) = &mut groups[at];
                members.push_str(id.as_str());
                let mut stored = String::with_capacity(expires.len() + o.len() + 13);
                stored.push_str(expires);
                stored.push_str("|{\"outcome\":");
                stored.push_str(&o);
                stored.push('}');
                results.push((*id, stored));
            }
            if let Some(chan) = c.reply_to.as_deref().filter(|c| !c.is_empty()) {
                let message = match channels.iter_mut().find(|(c, _)| *c == chan) {
                    Some((_, message)) => {
                        message.push(',');
                        message
                    }
                    None => {
                        channels.push((chan, String::from("[")));
                        let last = channels.len() - 1;
                        &mut channels[last].1
                    }
                };
                message.push_str("{\"id\":\"");
                message.push_str(id.as_str());
                message.push_str("\",\"outcome\":");
                message.push_str(&o);
                message.push('}');
            }
        }
        let counted = chunk.iter().any(|&i| batch[i].lease.attempt > 1);
        let mut inv = scripts::COMPLETE_FAST.prepare_invoke();
        k.complete_keys(&mut inv);
        inv.arg(ids.len())
            .arg(results.len())
            .arg(groups.len())
            .arg(channels.len())
            .arg(u8::from(counted))
            .arg(&ids);
        for &i in chunk {
            inv.arg(batch[i].lease.attempt.saturating_sub(1));
        }
        for (id, stored) in &results {
            inv.arg(id).arg(stored);
        }
        for (_, expires, members) in &groups {
            inv.arg(expires).arg(members);
        }
        for (chan, mut message) in channels {
            message.push(']');
            inv.arg(chan).arg(message);
        }
        let n: i64 = self.eval(&inv).await?;
        Ok(n >= 0)
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        let mut groups: HashMap<&str, Vec<&Lease>> = HashMap::new();
        for l in &leases {
            groups.entry(l.queue.as_str()).or_default().push(l);
        }
        for (queue, ls) in groups {
            let k = self.keys(queue);
            for chunk in ls.chunks(CHUNK) {
                let mut inv = scripts::RELEASE.prepare_invoke();
                inv.key(k.env())
                    .key(k.lease())
                    .key(k.cancel())
                    .key(k.wake())
                    .key(k.attempt());
                for r in k.ready_all() {
                    inv.key(r);
                }
                for l in chunk {
                    inv.arg(l.id.to_string()).arg(l.attempt);
                }
                self.eval::<i64>(&inv).await?;
            }
        }
        Ok(())
    }

    // ---- lookups by id --------------------------------------------------------------------

    fn cached(&self, id: TaskId) -> Option<Sent> {
        lock(&self.ids).map.get(&id).cloned()
    }

    /// The queues task `id` may be in: the one it was published to by this instance, or every
    /// queue this prefix has seen.
    async fn candidates(&self, id: TaskId) -> Result<Vec<String>, BackendError> {
        if let Some(sent) = self.cached(id) {
            return Ok(vec![sent.queue.to_string()]);
        }
        let mut queues: Vec<String> = self
            .command(redis::cmd("SMEMBERS").arg(keys::queues_key(&self.prefix)))
            .await?;
        queues.sort_unstable();
        Ok(queues)
    }

    /// The stored outcome, if there is one; otherwise makes sure a completion will tell this
    /// instance (for tasks it did not publish, by registering as a watcher).
    async fn check_result(
        &self,
        id: TaskId,
        watched: &mut Vec<String>,
    ) -> Result<Option<Outcome>, BackendError> {
        let sid = id.to_string();
        if let Some(Sent {
            queue, ours: true, ..
        }) = self.cached(id)
        {
            let k = self.keys(&queue);
            let mut pipe = redis::pipe();
            pipe.cmd("HGET").arg(k.results()).arg(&sid);
            let (stored,): (Value,) = self.query(&pipe).await?;
            return live_result(stored)
                .map(|s| decode_result(&k.results(), &s).map(|r| r.outcome))
                .transpose();
        }
        let queues = self.candidates(id).await?;
        let mut force = watched.is_empty() && self.cached(id).is_some();
        loop {
            let mut registered = Vec::new();
            for queue in &queues {
                let k = self.keys(queue);
                let mut inv = scripts::WATCH.prepare_invoke();
                inv.key(k.results())
                    .key(k.expiry())
                    .key(k.env())
                    .key(k.watch())
                    .key(k.denv())
                    .arg(&sid)
                    .arg(self.notifier.channel())
                    .arg(if force { "1" } else { "0" })
                    .arg("add")
                    .arg(Timestamp::now().as_millis());
                let reply: Vec<Value> = self.eval(&inv).await?;
                let mut it = reply.into_iter();
                match it.next().as_ref().and_then(int) {
                    Some(1) => {
                        let json = it.next().and_then(text).unwrap_or_default();
                        return decode_result(&k.results(), &json).map(|r| Some(r.outcome));
                    }
                    Some(2) => registered.push(queue.clone()),
                    _ => {}
                }
            }
            for q in registered {
                if !watched.contains(&q) {
                    watched.push(q);
                }
            }
            if !watched.is_empty() || force || queues.is_empty() {
                return Ok(None);
            }
            // Unknown everywhere (not sent yet, or its result expired): watch every queue.
            force = true;
        }
    }

    async fn unwatch(&self, id: TaskId, queues: &[String]) {
        let sid = id.to_string();
        for queue in queues {
            let k = self.keys(queue);
            let mut inv = scripts::WATCH.prepare_invoke();
            inv.key(k.results())
                .key(k.expiry())
                .key(k.env())
                .key(k.watch())
                .key(k.denv())
                .arg(&sid)
                .arg(self.notifier.channel())
                .arg("0")
                .arg("remove")
                .arg(Timestamp::now().as_millis());
            if let Err(e) = self.eval::<Vec<Value>>(&inv).await {
                tracing::debug!(error = %e, "could not unregister a result watcher");
            }
        }
    }
}

struct BlockingSlot<'a> {
    guard: tokio::sync::MutexGuard<'a, Option<MultiplexedConnection>>,
    done: bool,
}

impl Drop for BlockingSlot<'_> {
    fn drop(&mut self) {
        if !self.done {
            *self.guard = None;
        }
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
        if batch.is_empty() {
            return Ok(());
        }
        let inner = &self.inner;
        let items = inner.prepare(batch);
        let waiting = {
            let mut q = lock(&inner.publisher);
            if q.flushing {
                let (tx, rx) = oneshot::channel();
                q.pending.push(PendingPublish { items, done: tx });
                Err(rx)
            } else {
                q.flushing = true;
                Ok(items)
            }
        };
        match waiting {
            // Nothing was being written: this batch is written from the caller's task, with no
            // hop through a flusher task. Publishes arriving meanwhile wait in `pending`; the
            // guard hands them to a flusher when this write ends or is dropped.
            Ok(items) => {
                let _guard = InlineWrite(inner);
                inner.write_publish(items.iter()).await
            }
            Err(rx) => rx.await.map_err(|_| BackendError::Closed(BACKEND))?,
        }
    }

    async fn fetch(&self, req: FetchRequest<'_>) -> Result<Vec<Delivery>, BackendError> {
        if req.max == 0 || req.queues.is_empty() {
            return Ok(Vec::new());
        }
        let give_up = Instant::now() + req.wait;
        loop {
            // The script runs in a task of its own: if this future is dropped meanwhile (a
            // worker stopping), the leases it took are handed back rather than left to expire.
            let (tx, rx) = oneshot::channel();
            let inner = self.inner.clone();
            let queues = req.queues.to_vec();
            let (max, lease) = (req.max, req.lease);
            tokio::spawn(async move {
                let round = inner.fetch_round(&queues, max, lease).await;
                // Whether the send fails (the fetch is gone) or the value is dropped unread in
                // the channel (the fetch went away just after), `Unclaimed` hands it back.
                let _ = tx.send(round.map(|r| Unclaimed {
                    round: Some(r),
                    inner,
                }));
            });
            let round = rx
                .await
                .map_err(|_| BackendError::Closed(BACKEND))??
                .take()
                .ok_or(BackendError::Closed(BACKEND))?;
            if !round.deliveries.is_empty() {
                return Ok(round.deliveries);
            }
            if round.popped > 0 {
                continue;
            }
            let now = Instant::now();
            if now >= give_up {
                return Ok(Vec::new());
            }
            let mut wait = give_up - now;
            if let Some(due) = round.next_wake {
                wait = wait.min(due + Duration::from_millis(1));
            }
            self.inner.block(req.queues, wait).await;
        }
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
        let k = self.inner.keys(&lease.queue);
        let mut inv = scripts::RETRY.prepare_invoke();
        inv.key(k.attempt())
            .key(k.lease())
            .key(k.delayed())
            .key(k.cancel())
            .key(k.wake())
            .arg(lease.id.to_string())
            .arg(lease.attempt)
            .arg(Timestamp::now().after(delay).as_millis());
        Ok(self.inner.eval::<i64>(&inv).await? == 1)
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
        let k = self.inner.keys(&lease.queue);
        let id = lease.id.to_string();
        let head = codec::dead_letter_head(lease.id, &lease.queue, reason, &failure.message)
            .map_err(|e| encode_error("a dead letter", e))?;
        let (stored, entry) = rendered(&id, &Outcome::Failure(failure.clone()))?;
        let mut inv = scripts::DEAD_LETTER.prepare_invoke();
        k.dead_letter_keys(&mut inv);
        inv.arg(&id)
            .arg(lease.attempt)
            .arg(expiry(result_ttl))
            .arg(stored)
            .arg(entry)
            .arg(reply_to.as_deref().unwrap_or(""))
            .arg(head);
        Ok(self.inner.eval::<i64>(&inv).await? == 1)
    }

    async fn extend(
        &self,
        leases: &[Lease],
        by: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        let mut out = vec![LeaseStatus::Lost; leases.len()];
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, l) in leases.iter().enumerate() {
            groups.entry(l.queue.as_str()).or_default().push(i);
        }
        for (queue, idx) in groups {
            let k = self.inner.keys(queue);
            for chunk in idx.chunks(CHUNK) {
                let mut inv = scripts::EXTEND.prepare_invoke();
                inv.key(k.attempt())
                    .key(k.lease())
                    .key(k.cancel())
                    .arg(Timestamp::now().after(by).as_millis());
                for &i in chunk {
                    inv.arg(leases[i].id.to_string())
                        .arg(leases[i].attempt.saturating_sub(1));
                }
                let st: Vec<i64> = self.inner.eval(&inv).await?;
                for (&i, s) in chunk.iter().zip(st) {
                    out[i] = match s {
                        1 => LeaseStatus::Held,
                        2 => LeaseStatus::Cancelled,
                        _ => LeaseStatus::Lost,
                    };
                }
            }
        }
        Ok(out)
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, BackendError> {
        let inner = &self.inner;
        let sid = id.to_string();
        let queues = inner.candidates(id).await?;
        for _ in 0..8 {
            let mut pipe = redis::pipe();
            for q in &queues {
                let k = inner.keys(q);
                pipe.cmd("HGET").arg(k.env()).arg(&sid);
                pipe.cmd("ZSCORE").arg(k.lease()).arg(&sid);
                pipe.cmd("HGET").arg(k.denv()).arg(&sid);
            }
            let rows: Vec<(Option<String>, Option<f64>)> = if queues.is_empty() {
                Vec::new()
            } else {
                let flat: Vec<Value> = inner.query(&pipe).await?;
                flat.chunks(3)
                    .map(|c| {
                        let blob = c
                            .first()
                            .cloned()
                            .and_then(text)
                            .or_else(|| c.get(2).cloned().and_then(text));
                        let leased = c.get(1).is_some_and(|v| !matches!(v, Value::Nil));
                        (blob, leased.then_some(0.0))
                    })
                    .collect()
            };
            let Some((queue, (blob, _))) = queues
                .iter()
                .zip(rows)
                .find(|(_, (blob, leased))| blob.is_some() || leased.is_some())
            else {
                return Ok(CancelOutcome::NotFound);
            };
            let blob = blob.unwrap_or_default();
            let (priority, ttl) = match codec::parse_message(&blob) {
                Some(h) => {
                    let ttl = serde_json::from_str::<Envelope>(h.json)
                        .map(|e| e.result_ttl())
                        .unwrap_or(Some(taskq::DEFAULT_RESULT_TTL));
                    (h.priority, ttl)
                }
                None => (taskq::DEFAULT_PRIORITY, Some(taskq::DEFAULT_RESULT_TTL)),
            };
            let k = inner.keys(queue);
            let (stored, entry) = rendered(
                &sid,
                &Outcome::Failure(TaskFailure::new(FailureKind::Cancelled, "revoked")),
            )?;
            let mut inv = scripts::CANCEL.prepare_invoke();
            inv.key(k.env())
                .key(k.lease())
                .key(k.delayed())
                .key(k.cancel())
                .key(k.progress())
                .key(k.watch())
                .key(k.results())
                .key(k.expiry())
                .key(k.ready(priority))
                .key(k.attempt())
                .key(k.denv())
                .arg(&sid)
                .arg(&blob)
                .arg(expiry(ttl))
                .arg(stored)
                .arg(entry);
            match inner.eval::<i64>(&inv).await? {
                2 => return Ok(CancelOutcome::Signalled),
                1 => return Ok(CancelOutcome::Removed),
                0 => return Ok(CancelOutcome::NotFound),
                _ => continue,
            }
        }
        Err(command_error(redis::RedisError::from((
            redis::ErrorKind::Client,
            "the task kept changing while it was being revoked",
        ))))
    }

    async fn record(&self, id: TaskId) -> Result<Option<TaskRecord>, BackendError> {
        let inner = &self.inner;
        let sid = id.to_string();
        let queues = inner.candidates(id).await?;
        if queues.is_empty() {
            return Ok(None);
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for q in &queues {
            let k = inner.keys(q);
            pipe.cmd("HGET").arg(k.results()).arg(&sid);
            pipe.cmd("HGET").arg(k.env()).arg(&sid);
            pipe.cmd("ZSCORE").arg(k.lease()).arg(&sid);
            pipe.cmd("ZSCORE").arg(k.delayed()).arg(&sid);
            pipe.cmd("HGET").arg(k.progress()).arg(&sid);
            pipe.cmd("HGET").arg(k.attempt()).arg(&sid);
            pipe.cmd("HGET").arg(k.denv()).arg(&sid);
        }
        let flat: Vec<Value> = inner.query(&pipe).await?;
        let score = |v: &Value| !matches!(v, Value::Nil);
        for (queue, row) in queues.iter().zip(flat.chunks(7)) {
            let [result, blob, lease, delayed, progress, attempt, not_due] = row else {
                continue;
            };
            let result = live_result(result.clone());
            let blob = text(blob.clone()).or_else(|| text(not_due.clone()));
            let (lease, delayed) = (score(lease), score(delayed));
            let progress = text(progress.clone()).and_then(|p| Payload::from_json(p).ok());
            if let Some(json) = result {
                let stored = decode_result(&inner.keys(queue).results(), &json)?;
                return Ok(Some(TaskRecord {
                    id,
                    state: stored.outcome.state(),
                    outcome: Some(stored.outcome),
                    progress: stored.progress.or(progress),
                }));
            }
            if blob.is_none() {
                continue;
            }
            let attempt = int(attempt).unwrap_or(0);
            let state = if lease {
                TaskState::Running
            } else if delayed && attempt > 0 {
                TaskState::Retrying
            } else if delayed {
                TaskState::Scheduled
            } else {
                TaskState::Pending
            };
            return Ok(Some(TaskRecord {
                id,
                state,
                outcome: None,
                progress,
            }));
        }
        Ok(None)
    }

    async fn wait_result(
        &self,
        id: TaskId,
        timeout: Option<Duration>,
    ) -> Result<Option<Outcome>, BackendError> {
        let inner = &self.inner;
        let deadline = timeout.map(|t| Instant::now() + t);
        inner.notifier.ensure_listening();
        let mut generation = inner.notifier.generation();
        let mut waiter = inner.notifier.register(id);
        if let Some(outcome) = inner.notifier.take_stashed(id) {
            return Ok(Some(outcome));
        }
        // Sent by this instance on a subscription unbroken since: the notification cannot have
        // been missed, so there is no stored result to read yet.
        // (The generation is read first: a resubscription after this point wakes the loop.)
        generation.borrow_and_update();
        let mut told_for_sure = inner
            .cached(id)
            .and_then(|s| s.mark)
            .is_some_and(|m| inner.notifier.unbroken_since(m));
        let mut watched = Vec::new();
        let result = loop {
            if !std::mem::take(&mut told_for_sure) {
                match inner.check_result(id, &mut watched).await {
                    Ok(Some(outcome)) => break Ok(Some(outcome)),
                    Ok(None) => {}
                    Err(e) => break Err(e),
                }
            }
            let until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                got = &mut waiter.rx => break got.map(Some).map_err(|_| BackendError::Closed(BACKEND)),
                changed = generation.changed() => {
                    if changed.is_err() {
                        break Err(BackendError::Closed(BACKEND));
                    }
                    // (Re)subscribed: a notification may have been missed; read again.
                }
                () = until => break Ok(None),
            }
        };
        if !watched.is_empty() {
            inner.unwatch(id, &watched).await;
        }
        result
    }

    async fn set_progress(&self, lease: &Lease, progress: Payload) -> Result<(), BackendError> {
        let k = self.inner.keys(&lease.queue);
        let mut inv = scripts::PROGRESS.prepare_invoke();
        inv.key(k.attempt())
            .key(k.lease())
            .key(k.progress())
            .arg(lease.id.to_string())
            .arg(lease.attempt)
            .arg(progress.as_str());
        self.inner.eval::<i64>(&inv).await?;
        Ok(())
    }

    async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BackendError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let k = self.inner.keys(queue);
        let last = i64::try_from(limit).unwrap_or(i64::MAX).saturating_sub(1);
        let entries: Vec<String> = self
            .inner
            .command(redis::cmd("LRANGE").arg(k.dead()).arg(0).arg(last))
            .await?;
        Ok(entries
            .iter()
            .map(|e| codec::parse_dead(queue, e))
            .collect())
    }

    async fn requeue_dead(
        &self,
        queue: &str,
        ids: Option<&[TaskId]>,
    ) -> Result<usize, BackendError> {
        let inner = &self.inner;
        let k = inner.keys(queue);
        let entries: Vec<String> = inner
            .command(redis::cmd("LRANGE").arg(k.dead()).arg(0).arg(-1))
            .await?;
        let mut chosen = Vec::new();
        for entry in entries {
            let letter = codec::parse_dead(queue, &entry);
            if ids.is_some_and(|ids| !ids.contains(&letter.id)) {
                continue;
            }
            let Some(mut env) = letter.envelope else {
                continue;
            };
            env.attempt = 0;
            env.eta = None;
            env.expires = None;
            let blob = codec::encode_message(&env);
            chosen.push((entry, env.id.to_string(), env.priority.min(9), blob));
        }
        let mut moved = 0usize;
        for chunk in chosen.chunks(CHUNK) {
            let mut inv = scripts::REQUEUE.prepare_invoke();
            inv.key(k.env()).key(k.dead()).key(k.wake());
            for r in k.ready_all() {
                inv.key(r);
            }
            inv.key(k.results()).key(k.expiry()).key(k.attempt());
            for (entry, id, priority, blob) in chunk {
                inv.arg(entry).arg(id).arg(*priority).arg(blob);
            }
            let n: i64 = inner.eval(&inv).await?;
            moved += usize::try_from(n).unwrap_or(0);
        }
        Ok(moved)
    }

    async fn purge_dead(&self, queue: &str) -> Result<usize, BackendError> {
        let k = self.inner.keys(queue);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("LLEN")
            .arg(k.dead())
            .cmd("DEL")
            .arg(k.dead())
            .ignore();
        let (n,): (usize,) = self.inner.query(&pipe).await?;
        Ok(n)
    }

    async fn incr_counter(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, BackendError> {
        let key = keys::counter_key(&self.inner.prefix, key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("INCRBY")
            .arg(&key)
            .arg(by)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ms(ttl).max(1))
            .ignore();
        let (n,): (i64,) = self.inner.query(&pipe).await?;
        Ok(n)
    }

    async fn publish_once(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, BackendError> {
        self.inner.publish_once(batch, ttl).await
    }

    async fn join(
        &self,
        key: &str,
        slot: u32,
        total: u32,
        value: Payload,
        ttl: Duration,
    ) -> Result<Option<Vec<Payload>>, BackendError> {
        let key = keys::join_key(&self.inner.prefix, key);
        let mut inv = scripts::JOIN.prepare_invoke();
        inv.key(&key)
            .arg(slot)
            .arg(total)
            .arg(value.as_str())
            .arg(ms(ttl).max(1));
        let values: Option<Vec<String>> = self.inner.eval(&inv).await?;
        values
            .map(|vs| {
                vs.into_iter()
                    .map(|v| {
                        Payload::from_json(v)
                            .map_err(|e| corrupt(&key, format!("a join value: {e}")))
                    })
                    .collect()
            })
            .transpose()
    }

    async fn resolve(
        &self,
        id: TaskId,
        outcome: Outcome,
        ttl: Option<Duration>,
        reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        let inner = &self.inner;
        let sid = id.to_string();
        // Where the task is (or finished), else the queue of tasks found nowhere.
        let (queue, ours) = match inner.cached(id) {
            Some(sent) => (sent.queue.to_string(), sent.ours),
            None => {
                let queues = inner.candidates(id).await?;
                let mut pipe = redis::pipe();
                for q in &queues {
                    let k = inner.keys(q);
                    pipe.cmd("HEXISTS").arg(k.env()).arg(&sid);
                    pipe.cmd("HEXISTS").arg(k.results()).arg(&sid);
                    pipe.cmd("HEXISTS").arg(k.denv()).arg(&sid);
                }
                let found: Vec<i64> = if queues.is_empty() {
                    Vec::new()
                } else {
                    inner.query(&pipe).await?
                };
                let queue = queues
                    .iter()
                    .zip(found.chunks(3))
                    .find(|(_, f)| f.contains(&1))
                    .map_or_else(|| keys::RESOLVED_QUEUE.to_owned(), |(q, _)| q.clone());
                (queue, false)
            }
        };
        let reply = reply_to.or_else(|| ours.then(|| inner.notifier.channel().to_owned()));
        let (stored, entry) = rendered(&sid, &outcome)?;
        let k = inner.keys(&queue);
        let mut inv = scripts::RESOLVE.prepare_invoke();
        inv.key(k.results())
            .key(k.expiry())
            .key(k.watch())
            .arg(&sid)
            .arg(stored)
            .arg(entry)
            .arg(expiry(ttl))
            .arg(reply.unwrap_or_default())
            .arg(Timestamp::now().as_millis());
        Ok(inner.eval::<i64>(&inv).await? == 1)
    }

    async fn queue_stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        let k = self.inner.keys(queue);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for r in k.ready_all() {
            pipe.cmd("LLEN").arg(r);
        }
        pipe.cmd("ZCARD").arg(k.delayed());
        pipe.cmd("ZCARD").arg(k.lease());
        pipe.cmd("LLEN").arg(k.dead());
        let counts: Vec<usize> = self.inner.query(&pipe).await?;
        let ready = counts.iter().take(10).sum();
        let rest = &counts[10.min(counts.len())..];
        Ok(QueueStats {
            ready,
            delayed: rest.first().copied().unwrap_or(0),
            running: rest.get(1).copied().unwrap_or(0),
            dead: rest.get(2).copied().unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_comes_out_of_the_query() {
        assert_eq!(
            split_prefix("redis://h:1/0?prefix=app"),
            ("redis://h:1/0".to_owned(), Some("app".to_owned()))
        );
        assert_eq!(
            split_prefix("redis://h:1/0?protocol=resp3&prefix=app"),
            (
                "redis://h:1/0?protocol=resp3".to_owned(),
                Some("app".to_owned())
            )
        );
        assert_eq!(
            split_prefix("redis://h:1/0"),
            ("redis://h:1/0".to_owned(), None)
        );
    }
}
