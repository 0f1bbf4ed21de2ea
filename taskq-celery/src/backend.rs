//! [`CeleryBackend`]: taskq's backend trait on kombu's Redis transport and Celery's Redis result
//! backend.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncCommands, AsyncConnectionConfig, RedisError, Script};
use serde_json::{json, Value};
use taskq::backend::{
    Backend, CancelOutcome, Completion, DeadSelection, FetchRequest, LeaseStatus, QueueStats,
};
use taskq::{
    BackendError, DeadLetter, DeadLetterReason, Delivery, Envelope, FailureKind, Lease, Outcome,
    Payload, TaskFailure, TaskId, TaskRecord, TaskState, Timestamp,
};

use crate::config::{redact, Config};
use crate::error::CeleryError;
use crate::meta::{self, states};
use crate::protocol::{self, Body, Message, Signature};
use crate::BACKEND;

/// kombu's key names (its defaults; `global_keyprefix` is not supported).
pub(crate) const UNACKED: &str = "unacked";
pub(crate) const UNACKED_INDEX: &str = "unacked_index";
pub(crate) const UNACKED_MUTEX: &str = "unacked_mutex";
/// kombu's `unacked_mutex_expire`: 5 minutes. A restorer is given no longer than the
/// visibility timeout (and at least a second), so that one killed while it holds the mutex
/// delays restoration by at most one more visibility timeout, not five minutes of a two-second
/// one.
const MUTEX_EXPIRE: Duration = Duration::from_secs(300);

fn mutex_expire_ms(visibility_timeout: Duration) -> u64 {
    let expire = visibility_timeout.clamp(Duration::from_secs(1), MUTEX_EXPIRE);
    u64::try_from(expire.as_millis()).unwrap_or(u64::MAX)
}

fn dead_key(kombu_queue: &str) -> String {
    format!("taskq-celery.dead.{kombu_queue}")
}

fn counter_key(key: &str) -> String {
    format!("taskq-celery.counter.{key}")
}

fn command_error(e: RedisError) -> BackendError {
    BackendError::Command {
        backend: BACKEND,
        source: Box::new(e),
    }
}

fn codec_error(e: CeleryError) -> BackendError {
    BackendError::Command {
        backend: BACKEND,
        source: Box::new(e),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn secs(t: Timestamp) -> String {
    format!("{:.6}", t.as_millis() as f64 / 1000.0)
}

fn now_secs() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    format!("{now:.6}")
}

/// A message this process took from a queue and has not acknowledged.
#[derive(Debug)]
struct Inflight {
    tag: String,
    raw: String,
    message: Message,
    body: Body,
    kombu_queue: String,
    attempt: u32,
    /// Not delivered to the worker before this time (Celery's `eta`): held here, as a Celery
    /// worker holds eta tasks in memory.
    held_until: Option<Timestamp>,
    cancelled: bool,
}

/// The Celery backend. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), taskq::Error> {
/// let backend = taskq_celery::CeleryBackend::connect("celery+redis://127.0.0.1:6379/0").await?;
/// let client = taskq::Client::new(std::sync::Arc::new(backend));
/// # let _ = client; Ok(()) }
/// ```
#[derive(Clone)]
pub struct CeleryBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CeleryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CeleryBackend")
            .field("url", &redact(&self.inner.config.redis_url))
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: Config,
    client: redis::Client,
    conn: ConnectionManager,
    results: Arc<crate::results::Subscriptions>,
    inflight: Mutex<HashMap<TaskId, Inflight>>,
    blocking: Mutex<Vec<MultiplexedConnection>>,
    last_restore: Mutex<Option<Instant>>,
    known_queues: Mutex<HashSet<String>>,
    claim: Script,
    restore: Script,
    unlock: Script,
}

impl CeleryBackend {
    /// Connects to the Redis server a `celery+redis://` URL names.
    ///
    /// # Errors
    /// [`BackendError::InvalidUrl`]; [`BackendError::Unavailable`] if the server cannot be
    /// reached.
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        Self::with_config(Config::from_url(url)?).await
    }

    /// Connects with explicit settings.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn with_config(config: Config) -> Result<Self, BackendError> {
        let unavailable = |e: RedisError| BackendError::Unavailable {
            backend: BACKEND,
            url: redact(&config.redis_url),
            source: Box::new(e),
        };
        let client = redis::Client::open(config.redis_url.as_str()).map_err(|e| {
            BackendError::InvalidUrl {
                backend: BACKEND,
                url: redact(&config.redis_url),
                detail: e.to_string(),
            }
        })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(3)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(15)));
        let conn = ConnectionManager::new_with_config(client.clone(), manager_config)
            .await
            .map_err(unavailable)?;
        let results = crate::results::Subscriptions::new(client.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                results,
                conn,
                inflight: Mutex::new(HashMap::new()),
                blocking: Mutex::new(Vec::new()),
                last_restore: Mutex::new(None),
                known_queues: Mutex::new(HashSet::new()),
                claim: Script::new(include_str!("lua/claim.lua")),
                restore: Script::new(include_str!("lua/restore.lua")),
                unlock: Script::new(include_str!("lua/unlock.lua")),
            }),
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    fn conn(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    /// Sends a raw Celery message to a kombu queue (`LPUSH` on its priority list), as a Celery
    /// producer does.
    ///
    /// # Errors
    /// The connection's error.
    pub async fn publish_message(&self, message: &Message) -> Result<(), BackendError> {
        let queue = message.properties.delivery_info.routing_key.clone();
        let key = protocol::list_key(&queue, message.properties.priority.unwrap_or(0));
        let text = message.to_json().map_err(codec_error)?;
        lock(&self.inner.known_queues).insert(queue);
        let () = self.conn().lpush(key, text).await.map_err(command_error)?;
        Ok(())
    }

    /// Puts back, at the head of their queues, the messages this process holds for their eta
    /// (Celery's `restore_at_shutdown`); call it when a worker stops, or they come back only
    /// after the visibility timeout past their eta.
    ///
    /// # Errors
    /// The connection's error.
    pub async fn restore_held(&self) -> Result<usize, BackendError> {
        let held: Vec<Inflight> = {
            let mut inflight = lock(&self.inner.inflight);
            let ids: Vec<TaskId> = inflight
                .iter()
                .filter(|(_, f)| f.held_until.is_some())
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| inflight.remove(id)).collect()
        };
        let n = held.len();
        for f in held {
            self.requeue_inflight(&f).await?;
        }
        Ok(n)
    }

    async fn requeue_inflight(&self, f: &Inflight) -> Result<(), BackendError> {
        let key = protocol::list_key(&f.kombu_queue, f.message.properties.priority.unwrap_or(0));
        let mut pipe = redis::pipe();
        pipe.atomic()
            .rpush(key, &f.raw)
            .ignore()
            .hdel(UNACKED, &f.tag)
            .ignore()
            .zrem(UNACKED_INDEX, &f.tag)
            .ignore();
        let () = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        Ok(())
    }

    /// Restores unacknowledged messages older than the visibility timeout, as kombu's
    /// `QoS.restore_visible` does: under the `unacked_mutex`, each put back in its list by one
    /// atomic script (kombu uses a WATCH transaction) and marked `redelivered`.
    ///
    /// # Errors
    /// The connection's error.
    pub async fn restore_visible(&self) -> Result<usize, BackendError> {
        let mut conn = self.conn();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let acquired: Option<String> = redis::cmd("SET")
            .arg(UNACKED_MUTEX)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(mutex_expire_ms(self.inner.config.visibility_timeout))
            .query_async(&mut conn)
            .await
            .map_err(command_error)?;
        if acquired.is_none() {
            return Ok(0);
        }
        let result = self.restore_visible_locked(&mut conn).await;
        let _: Result<i64, _> = self
            .inner
            .unlock
            .key(UNACKED_MUTEX)
            .arg(&token)
            .invoke_async(&mut conn)
            .await;
        result
    }

    async fn restore_visible_locked(
        &self,
        conn: &mut ConnectionManager,
    ) -> Result<usize, BackendError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let ceil = now - self.inner.config.visibility_timeout.as_secs_f64();
        let tags: Vec<String> = redis::cmd("ZRANGE")
            .arg(UNACKED_INDEX)
            .arg(format!("{ceil:.6}"))
            .arg(0)
            .arg("BYSCORE")
            .arg("REV")
            .query_async(conn)
            .await
            .map_err(command_error)?;
        let mut restored = 0;
        for tag in tags {
            let entry: Option<String> = conn.hget(UNACKED, &tag).await.map_err(command_error)?;
            let Some(entry) = entry else {
                let _: Result<i64, _> = conn.zrem(UNACKED_INDEX, &tag).await;
                continue;
            };
            let Some((message, queue)) = self.restorable(conn, &entry).await else {
                tracing::error!(%tag, "could not restore an unacknowledged message: not [message, exchange, routing_key]");
                continue;
            };
            let priority = message
                .pointer("/properties/priority")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(9) as u8;
            let list = protocol::list_key(&queue, priority);
            let done: i64 = self
                .inner
                .restore
                .key(UNACKED)
                .key(UNACKED_INDEX)
                .key(list)
                .arg(&tag)
                .arg(&entry)
                .arg(message.to_string())
                .invoke_async(conn)
                .await
                .map_err(command_error)?;
            if done == 1 {
                restored += 1;
                tracing::info!(%tag, %queue, "restored an unacknowledged message past the visibility timeout");
            }
        }
        Ok(restored)
    }

    /// The message of an `unacked` entry, marked redelivered, and the queue it goes back to.
    async fn restorable(
        &self,
        conn: &mut ConnectionManager,
        entry: &str,
    ) -> Option<(Value, String)> {
        let (mut message, exchange, routing_key): (Value, String, String) =
            serde_json::from_str(entry).ok()?;
        if let Some(h) = message.get_mut("headers").and_then(Value::as_object_mut) {
            h.insert("redelivered".into(), Value::Bool(true));
        }
        if let Some(d) = message
            .pointer_mut("/properties/delivery_info")
            .and_then(Value::as_object_mut)
        {
            d.insert("redelivered".into(), Value::Bool(true));
        }
        if exchange.is_empty() {
            return Some((message, routing_key));
        }
        // A named direct exchange: the queue bound with this routing key (kombu's _lookup).
        let members: Vec<String> = conn
            .smembers(format!("_kombu.binding.{exchange}"))
            .await
            .unwrap_or_default();
        let queue = members
            .iter()
            .filter_map(|m| {
                let parts: Vec<&str> = m.split(protocol::SEP).collect();
                (parts.len() == 3 && parts[0] == routing_key).then(|| parts[2].to_owned())
            })
            .next()
            .unwrap_or(routing_key);
        Some((message, queue))
    }

    async fn maybe_restore(&self) {
        let due = {
            let mut last = lock(&self.inner.last_restore);
            let due = last.is_none_or(|t| t.elapsed() >= self.inner.config.restore_interval);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due {
            if let Err(e) = self.restore_visible().await {
                tracing::warn!(error = %e, "restoring unacknowledged messages failed");
            }
        }
    }

    fn next_restore_in(&self) -> Duration {
        let last = *lock(&self.inner.last_restore);
        match last {
            Some(t) => self
                .inner
                .config
                .restore_interval
                .saturating_sub(t.elapsed()),
            None => Duration::ZERO,
        }
    }

    /// Held messages whose eta has come, up to `max`.
    fn take_due(&self, queues: &HashSet<&str>, max: usize) -> Vec<Delivery> {
        let now = Timestamp::now();
        let mut inflight = lock(&self.inner.inflight);
        let mut out = Vec::new();
        for (id, f) in inflight.iter_mut() {
            if out.len() >= max {
                break;
            }
            if f.held_until.is_some_and(|t| t <= now) && queues.contains(f.kombu_queue.as_str()) {
                f.held_until = None;
                match self.envelope_of(*id, f) {
                    Ok(env) => out.push(Delivery::new(env)),
                    Err(e) => {
                        tracing::warn!(id = %id, error = %e, "held message no longer decodes")
                    }
                }
            }
        }
        out
    }

    fn next_held(&self, queues: &HashSet<&str>) -> Option<Timestamp> {
        lock(&self.inner.inflight)
            .values()
            .filter(|f| queues.contains(f.kombu_queue.as_str()))
            .filter_map(|f| f.held_until)
            .min()
    }

    /// The taskq envelope of a Celery message: arguments mapped onto the Rust task's parameters
    /// by position and name, options from the headers and the task's declaration.
    fn envelope_of(&self, id: TaskId, f: &Inflight) -> Result<Envelope, CeleryError> {
        let h = &f.message.headers;
        let entry = taskq::Registry::global().ok().and_then(|r| r.get(&h.task));
        let args = match entry {
            Some(entry) => {
                let params = (entry.params)();
                if params.is_empty() && !f.body.args.is_empty() {
                    Value::Array(f.body.args.clone())
                } else {
                    Value::Object(protocol::map_args(
                        &h.task,
                        params,
                        f.body.args.clone(),
                        f.body.kwargs.clone(),
                    )?)
                }
            }
            None if f.body.args.is_empty() => Value::Object(f.body.kwargs.clone()),
            None if f.body.kwargs.is_empty() => Value::Array(f.body.args.clone()),
            None => json!({ protocol::MIXED_ARGS_KEY: [f.body.args, f.body.kwargs] }),
        };
        let payload = Payload::encode(&args).map_err(CeleryError::Json)?;
        let queue = self.inner.config.taskq_queue(&f.kombu_queue).to_owned();
        let mut env = Envelope::new(h.task.clone(), queue, payload);
        env.id = id;
        env.priority = protocol::from_celery_priority(f.message.properties.priority.unwrap_or(0));
        env.eta = h.eta.as_deref().and_then(crate::time::parse);
        env.expires = h.expires.as_deref().and_then(crate::time::parse);
        env.attempt = f.attempt;
        let options = entry.map(|e| e.options).unwrap_or_default();
        env.max_attempts = options.max_attempts.max(f.attempt);
        env.backoff = options.backoff;
        let hard = h.timelimit.0.or(h.timelimit.1);
        env.timeout_ms = hard
            .filter(|s| *s > 0.0)
            .map(|s| (s * 1000.0) as u64)
            .or_else(|| options.timeout.map(|d| d.as_millis() as u64));
        env.result_ttl_ms =
            (!h.ignore_result).then(|| self.inner.config.result_expires.as_millis() as u64);
        env.root_id = h.root_id.as_deref().map(protocol::task_id_of);
        env.parent_id = h.parent_id.as_deref().map(protocol::task_id_of);
        Ok(env)
    }

    /// Takes up to `max` messages from `keys` into `unacked` atomically.
    async fn claim(
        &self,
        keys: &[(String, String)],
        max: usize,
    ) -> Result<Vec<(String, Option<String>, String)>, BackendError> {
        let mut invocation = self.inner.claim.prepare_invoke();
        invocation.key(UNACKED).key(UNACKED_INDEX);
        for (key, _) in keys {
            invocation.key(key);
        }
        invocation.arg(max).arg(now_secs());
        let flat: Vec<redis::Value> = invocation
            .invoke_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        let mut out = Vec::new();
        for chunk in flat.chunks(3) {
            let [index, tag, raw] = chunk else { continue };
            let index: usize = redis::from_redis_value_ref(index).unwrap_or(1);
            let tag: Option<String> = redis::from_redis_value_ref(tag).ok();
            let raw: String = redis::from_redis_value_ref(raw).unwrap_or_default();
            let queue = keys
                .get(index.saturating_sub(1))
                .map(|(_, q)| q.clone())
                .unwrap_or_default();
            out.push((queue, tag, raw));
        }
        Ok(out)
    }

    /// Blocks until one of `keys` has a message, without taking it: `BLMOVE key key RIGHT
    /// RIGHT` moves a message from the tail of a list to the same tail, so it never leaves
    /// Redis; the claim script then takes it. One dedicated connection per key.
    async fn wait_ready(&self, keys: &[(String, String)], timeout: Duration) -> bool {
        let secs = format!("{:.3}", timeout.as_secs_f64().max(0.01));
        let mut waits = Vec::new();
        for (key, _) in keys {
            let conn = match self.blocking_conn().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open a blocking connection");
                    tokio::time::sleep(timeout.min(Duration::from_millis(200))).await;
                    return false;
                }
            };
            let key = key.clone();
            let secs = secs.clone();
            waits.push(Box::pin(async move {
                let mut conn = conn;
                let r: Result<Option<String>, RedisError> = redis::cmd("BLMOVE")
                    .arg(&key)
                    .arg(&key)
                    .arg("RIGHT")
                    .arg("RIGHT")
                    .arg(&secs)
                    .query_async(&mut conn)
                    .await;
                (r, conn)
            }));
        }
        while !waits.is_empty() {
            let ((r, conn), _, rest) = futures_util::future::select_all(waits).await;
            waits = rest;
            match r {
                Ok(Some(_)) => {
                    lock(&self.inner.blocking).push(conn);
                    // The other waits stay blocked on their connections: drop them.
                    return true;
                }
                Ok(None) => lock(&self.inner.blocking).push(conn),
                Err(e) => tracing::debug!(error = %e, "blocking wait failed"),
            }
        }
        false
    }

    async fn blocking_conn(&self) -> Result<MultiplexedConnection, RedisError> {
        if let Some(c) = lock(&self.inner.blocking).pop() {
            return Ok(c);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(None);
        self.inner
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// Decodes what the claim script returned; poison goes to the dead letters at once.
    async fn accept(
        &self,
        claimed: Vec<(String, Option<String>, String)>,
        out: &mut Vec<Delivery>,
    ) -> Result<(), BackendError> {
        let mut hold = Vec::new();
        for (queue, tag, raw) in claimed {
            let Some(tag) = tag else {
                self.bury_raw(&queue, None, &raw, "no delivery tag: not a kombu message")
                    .await?;
                continue;
            };
            let parsed = Message::parse(&raw).and_then(|m| m.body().map(|b| (m, b)));
            let (message, body) = match parsed {
                Ok(x) => x,
                Err(e) => {
                    self.bury_raw(&queue, Some(&tag), &raw, &e.to_string())
                        .await?;
                    continue;
                }
            };
            let id = protocol::task_id_of(&message.headers.id);
            let f = Inflight {
                tag,
                raw,
                attempt: message.headers.retries.saturating_add(1),
                kombu_queue: queue,
                held_until: None,
                cancelled: false,
                message,
                body,
            };
            if let Some(expires) = f
                .message
                .headers
                .expires
                .as_deref()
                .and_then(crate::time::parse)
            {
                if expires <= Timestamp::now() {
                    let failure =
                        TaskFailure::new(FailureKind::Expired, "not started before it expired");
                    self.finish(
                        &f,
                        Outcome::Failure(failure),
                        Some(self.inner.config.result_expires),
                    )
                    .await?;
                    continue;
                }
            }
            match self.envelope_of(id, &f) {
                Ok(env) => {
                    let due = env.eta.filter(|eta| *eta > Timestamp::now());
                    let mut inflight = lock(&self.inner.inflight);
                    match due {
                        Some(eta) => {
                            hold.push((f.tag.clone(), eta));
                            inflight.insert(
                                id,
                                Inflight {
                                    held_until: Some(eta),
                                    ..f
                                },
                            );
                        }
                        None => {
                            inflight.insert(id, f);
                            out.push(Delivery::new(env));
                        }
                    }
                }
                Err(e) => {
                    // Arguments that fit no parameter list: an undecodable message.
                    let failure = TaskFailure::new(FailureKind::Rejected, e.to_string());
                    self.finish(
                        &f,
                        Outcome::Failure(failure),
                        Some(self.inner.config.result_expires),
                    )
                    .await?;
                }
            }
        }
        if !hold.is_empty() {
            // Held for their eta: score them by it, so that nobody restores them before eta +
            // visibility timeout (a Celery worker scores them by their delivery time, and so
            // gets them restored, and run twice, when the eta is further than the timeout).
            let mut pipe = redis::pipe();
            for (tag, eta) in hold {
                pipe.cmd("ZADD")
                    .arg(UNACKED_INDEX)
                    .arg("XX")
                    .arg(secs(eta))
                    .arg(tag)
                    .ignore();
            }
            let () = pipe
                .query_async(&mut self.conn())
                .await
                .map_err(command_error)?;
        }
        Ok(())
    }

    /// Moves a message that cannot be run to this crate's dead-letter list, and acknowledges it.
    async fn bury_raw(
        &self,
        queue: &str,
        tag: Option<&str>,
        raw: &str,
        why: &str,
    ) -> Result<(), BackendError> {
        tracing::warn!(%queue, error = %why, "malformed message moved to the dead letters");
        let letter = DeadLetter {
            id: TaskId::new(),
            queue: self.inner.config.taskq_queue(queue).to_owned(),
            reason: DeadLetterReason::MalformedMessage,
            message: why.to_owned(),
            envelope: None,
            raw: Some(raw.to_owned()),
            at: Timestamp::now(),
        };
        let text = serde_json::to_string(&letter).map_err(|e| codec_error(CeleryError::Json(e)))?;
        let mut pipe = redis::pipe();
        pipe.atomic().rpush(dead_key(queue), text).ignore();
        if let Some(tag) = tag {
            pipe.hdel(UNACKED, tag)
                .ignore()
                .zrem(UNACKED_INDEX, tag)
                .ignore();
        }
        let () = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        Ok(())
    }

    /// Stores the outcome (unless `ttl` is `None`), starts what the message chains on success,
    /// and acknowledges it: all in one MULTI/EXEC, so a worker that dies in between leaves the
    /// message unacknowledged (to be restored and run again) rather than half-finished.
    async fn finish(
        &self,
        f: &Inflight,
        outcome: Outcome,
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.finish_into(&mut pipe, f, &outcome, ttl)?;
        let () = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        Ok(())
    }

    fn finish_into(
        &self,
        pipe: &mut redis::Pipeline,
        f: &Inflight,
        outcome: &Outcome,
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        let h = &f.message.headers;
        let mut children = Vec::new();
        let (status, result, traceback) = match outcome {
            Outcome::Success(payload) => {
                let value: Value = payload.decode().unwrap_or(Value::Null);
                for next in self.successors(f, &value)? {
                    children.push(json!([[next.headers.id, null], null]));
                    let key = protocol::list_key(
                        &next.properties.delivery_info.routing_key,
                        next.properties.priority.unwrap_or(0),
                    );
                    pipe.lpush(key, next.to_json().map_err(codec_error)?)
                        .ignore();
                }
                (states::SUCCESS.to_owned(), value, None)
            }
            Outcome::Failure(failure) => {
                if f.body
                    .embed
                    .errbacks
                    .as_ref()
                    .is_some_and(|e| !e.is_empty())
                {
                    tracing::warn!(task = %h.task, "link_error callbacks are not run by Rust workers");
                }
                let (status, exc) = meta::exception(failure);
                (status, exc, Some(meta::traceback(&h.task, failure)))
            }
        };
        if f.body.embed.chord.as_ref().is_some_and(|c| !c.is_null()) {
            tracing::warn!(task = %h.task, "member of a Celery chord: Rust workers do not count chord parts; the chord callback will not run");
        }
        if let Some(ttl) = ttl.filter(|_| !h.ignore_result) {
            let key = meta::key(&h.id);
            let text = meta::encode(
                &h.id,
                &status,
                result,
                traceback,
                children,
                h.parent_id.as_deref(),
                h.group.as_deref(),
            );
            pipe.set_ex(&key, &text, ttl.as_secs().max(1)).ignore();
            pipe.publish(&key, &text).ignore();
        }
        pipe.hdel(UNACKED, &f.tag).ignore();
        pipe.zrem(UNACKED_INDEX, &f.tag).ignore();
        Ok(())
    }

    /// The messages a success starts: the next step of the chain (with the rest of the chain)
    /// and the callbacks, each with the result in front of its arguments unless immutable.
    fn successors(&self, f: &Inflight, result: &Value) -> Result<Vec<Message>, BackendError> {
        let h = &f.message.headers;
        let mut out = Vec::new();
        let mut sigs: Vec<(Value, Option<Vec<Value>>)> = Vec::new();
        if let Some(chain) = f.body.embed.chain.as_ref().filter(|c| !c.is_empty()) {
            let mut rest = chain.clone();
            if let Some(next) = rest.pop() {
                sigs.push((next, Some(rest)));
            }
        }
        for cb in f.body.embed.callbacks.iter().flatten() {
            sigs.push((cb.clone(), None));
        }
        for (sig, rest) in sigs {
            let sig: Signature =
                serde_json::from_value(sig).map_err(|e| codec_error(CeleryError::Json(e)))?;
            if sig.subtask_type.is_some() {
                tracing::warn!(task = %sig.task, kind = ?sig.subtask_type, "only plain task signatures are chained by Rust workers");
                continue;
            }
            let mut args = sig.args.clone();
            if !sig.immutable {
                args.insert(0, result.clone());
            }
            let o = &sig.options;
            let id = o
                .get("task_id")
                .and_then(Value::as_str)
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
            let queue = o
                .get("queue")
                .and_then(Value::as_str)
                .or_else(|| o.get("routing_key").and_then(Value::as_str))
                .unwrap_or(&self.inner.config.default_queue)
                .to_owned();
            let now = Timestamp::now();
            let eta = o
                .get("eta")
                .and_then(Value::as_str)
                .and_then(crate::time::parse)
                .or_else(|| {
                    o.get("countdown")
                        .and_then(Value::as_f64)
                        .map(|s| now.after(Duration::from_secs_f64(s.max(0.0))))
                });
            let expires = match o.get("expires") {
                Some(Value::String(s)) => crate::time::parse(s),
                Some(Value::Number(n)) => n
                    .as_f64()
                    .map(|s| now.after(Duration::from_secs_f64(s.max(0.0)))),
                _ => None,
            };
            let embed = protocol::Embed {
                chain: rest.filter(|r| !r.is_empty()),
                callbacks: match o.get("link") {
                    Some(Value::Array(links)) => Some(links.clone()),
                    _ => None,
                },
                ..Default::default()
            };
            let next = protocol::build(protocol::Outgoing {
                id,
                task: sig.task.clone(),
                queue,
                priority: o
                    .get("priority")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .min(9) as u8,
                body: Body {
                    args,
                    kwargs: sig.kwargs.clone(),
                    embed,
                },
                eta,
                expires,
                retries: 0,
                time_limit: o.get("time_limit").and_then(Value::as_f64),
                root_id: h.root_id.clone().or_else(|| Some(h.id.clone())),
                parent_id: Some(h.id.clone()),
                group: None,
                ignore_result: o
                    .get("ignore_result")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
            .map_err(codec_error)?;
            out.push(next);
        }
        Ok(out)
    }

    fn take_inflight(&self, lease: &Lease) -> Option<Inflight> {
        let mut inflight = lock(&self.inner.inflight);
        match inflight.get(&lease.id) {
            Some(f) if f.attempt == lease.attempt && f.held_until.is_none() => {
                inflight.remove(&lease.id)
            }
            _ => None,
        }
    }

    async fn get_meta(&self, id: &str) -> Result<Option<meta::Meta>, BackendError> {
        let text: Option<String> = self
            .conn()
            .get(meta::key(id))
            .await
            .map_err(command_error)?;
        Ok(text.as_deref().and_then(meta::parse))
    }

    fn queues_of(&self, queues: &[String]) -> (Vec<(String, String)>, HashSet<String>) {
        let mut keys = Vec::new();
        let mut names = HashSet::new();
        // Like kombu's BRPOP: every queue's step-0 list first, then step 3, ...
        for step in protocol::PRIORITY_STEPS {
            for q in queues {
                let kombu = self.inner.config.kombu_queue(q).to_owned();
                keys.push((protocol::list_key(&kombu, step), kombu.clone()));
                names.insert(kombu);
            }
        }
        (keys, names)
    }
}

#[async_trait]
impl Backend for CeleryBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn publish(&self, batch: Vec<Envelope>) -> Result<(), BackendError> {
        let mut pipe = redis::pipe();
        for env in &batch {
            let queue = self.inner.config.kombu_queue(&env.queue).to_owned();
            let message = protocol::from_envelope(env, &queue).map_err(codec_error)?;
            let key = protocol::list_key(&queue, message.properties.priority.unwrap_or(0));
            pipe.lpush(key, message.to_json().map_err(codec_error)?)
                .ignore();
            lock(&self.inner.known_queues).insert(queue);
        }
        let () = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        Ok(())
    }

    async fn fetch(&self, request: FetchRequest<'_>) -> Result<Vec<Delivery>, BackendError> {
        let deadline = Instant::now() + request.wait;
        let (keys, names) = self.queues_of(request.queues);
        lock(&self.inner.known_queues).extend(names.iter().cloned());
        let name_refs: HashSet<&str> = names.iter().map(String::as_str).collect();
        let max = request.max.max(1);
        loop {
            self.maybe_restore().await;
            let mut out = self.take_due(&name_refs, max);
            if out.len() < max {
                let claimed = self.claim(&keys, max - out.len()).await?;
                self.accept(claimed, &mut out).await?;
            }
            if !out.is_empty() {
                return Ok(out);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(out);
            }
            let mut wait = deadline - now;
            wait = wait.min(self.next_restore_in().max(Duration::from_millis(10)));
            if let Some(t) = self.next_held(&name_refs) {
                wait = wait.min(t.remaining());
            }
            if wait > Duration::from_millis(5) {
                self.wait_ready(&keys, wait).await;
            }
        }
    }

    async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, BackendError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut accepted = Vec::with_capacity(batch.len());
        let mut taken = Vec::new();
        for c in batch {
            match self.take_inflight(&c.lease) {
                Some(f) => {
                    self.finish_into(&mut pipe, &f, &c.outcome, c.result_ttl)?;
                    taken.push(f);
                    accepted.push(true);
                }
                None => accepted.push(false),
            }
        }
        if !taken.is_empty() {
            if let Err(e) = pipe.query_async::<()>(&mut self.conn()).await {
                // Keep them: the acker tries again, or the visibility timeout brings them back.
                let mut inflight = lock(&self.inner.inflight);
                for f in taken {
                    inflight.insert(protocol::task_id_of(&f.message.headers.id), f);
                }
                return Err(command_error(e));
            }
        }
        Ok(accepted)
    }

    async fn retry(
        &self,
        lease: &Lease,
        delay: Duration,
        failure: &TaskFailure,
    ) -> Result<bool, BackendError> {
        let Some(f) = self.take_inflight(lease) else {
            return Ok(false);
        };
        // As Celery's Task.retry: the same message again, `retries` + 1, with an eta; the
        // result shows RETRY meanwhile.
        let mut message: Value =
            serde_json::from_str(&f.raw).map_err(|e| codec_error(CeleryError::Json(e)))?;
        let eta = Timestamp::now().after(delay);
        if let Some(h) = message.get_mut("headers").and_then(Value::as_object_mut) {
            h.insert("retries".into(), Value::from(f.message.headers.retries + 1));
            h.insert("eta".into(), Value::from(crate::time::format(eta)));
        }
        if let Some(p) = message.get_mut("properties").and_then(Value::as_object_mut) {
            p.insert(
                "delivery_tag".into(),
                Value::from(uuid::Uuid::new_v4().to_string()),
            );
        }
        let h = &f.message.headers;
        let key = protocol::list_key(&f.kombu_queue, f.message.properties.priority.unwrap_or(0));
        let mut pipe = redis::pipe();
        pipe.atomic().lpush(key, message.to_string()).ignore();
        if !h.ignore_result {
            let (_, exc) = meta::exception(failure);
            let text = meta::encode(
                &h.id,
                states::RETRY,
                exc,
                Some(meta::traceback(&h.task, failure)),
                vec![],
                h.parent_id.as_deref(),
                h.group.as_deref(),
            );
            let mkey = meta::key(&h.id);
            pipe.set_ex(
                &mkey,
                &text,
                self.inner.config.result_expires.as_secs().max(1),
            )
            .ignore()
            .publish(&mkey, &text)
            .ignore();
        }
        pipe.hdel(UNACKED, &f.tag)
            .ignore()
            .zrem(UNACKED_INDEX, &f.tag)
            .ignore();
        let () = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        Ok(true)
    }

    async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        for lease in leases {
            if let Some(f) = self.take_inflight(&lease) {
                self.requeue_inflight(&f).await?;
            }
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        reason: DeadLetterReason,
        failure: &TaskFailure,
        result_ttl: Option<Duration>,
        _reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        let Some(f) = self.take_inflight(lease) else {
            return Ok(false);
        };
        let env = self.envelope_of(lease.id, &f).ok();
        let letter = DeadLetter {
            id: lease.id,
            queue: lease.queue.clone(),
            reason,
            message: failure.message.clone(),
            envelope: env,
            raw: Some(f.raw.clone()),
            at: Timestamp::now(),
        };
        let text = serde_json::to_string(&letter).map_err(|e| codec_error(CeleryError::Json(e)))?;
        let mut pipe = redis::pipe();
        pipe.atomic().rpush(dead_key(&f.kombu_queue), text).ignore();
        self.finish_into(
            &mut pipe,
            &f,
            &Outcome::Failure(failure.clone()),
            result_ttl,
        )?;
        let () = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        Ok(true)
    }

    async fn extend(
        &self,
        leases: &[Lease],
        _by: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        let mut statuses = vec![LeaseStatus::Lost; leases.len()];
        let mut pipe = redis::pipe();
        let mut asked = Vec::new();
        {
            let inflight = lock(&self.inner.inflight);
            let now = now_secs();
            for (i, lease) in leases.iter().enumerate() {
                match inflight.get(&lease.id) {
                    Some(f) if f.attempt == lease.attempt && f.cancelled => {
                        statuses[i] = LeaseStatus::Cancelled;
                    }
                    Some(f) if f.attempt == lease.attempt => {
                        // Refresh the delivery time, so the visibility timeout counts from now.
                        pipe.cmd("ZADD")
                            .arg(UNACKED_INDEX)
                            .arg("XX")
                            .arg("CH")
                            .arg(&now)
                            .arg(&f.tag);
                        asked.push(i);
                    }
                    _ => {}
                }
            }
        }
        if !asked.is_empty() {
            let changed: Vec<i64> = pipe
                .query_async(&mut self.conn())
                .await
                .map_err(command_error)?;
            for (i, c) in asked.into_iter().zip(changed) {
                statuses[i] = if c > 0 {
                    LeaseStatus::Held
                } else {
                    LeaseStatus::Lost
                };
            }
        }
        Ok(statuses)
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, BackendError> {
        let held = {
            let mut inflight = lock(&self.inner.inflight);
            match inflight.get_mut(&id) {
                Some(f) if f.held_until.is_some() => inflight.remove(&id),
                Some(f) => {
                    f.cancelled = true;
                    return Ok(CancelOutcome::Signalled);
                }
                None => None,
            }
        };
        let revoked = TaskFailure::new(FailureKind::Cancelled, "revoked");
        if let Some(f) = held {
            self.finish(
                &f,
                Outcome::Failure(revoked),
                Some(self.inner.config.result_expires),
            )
            .await?;
            return Ok(CancelOutcome::Removed);
        }
        // Queued: find it in the lists of the queues this process knows (O(queue length)).
        let queues: Vec<String> = lock(&self.inner.known_queues).iter().cloned().collect();
        let mut conn = self.conn();
        let wanted = id.to_string();
        for queue in queues {
            for key in protocol::list_keys(&queue) {
                let items: Vec<String> = conn.lrange(&key, 0, -1).await.map_err(command_error)?;
                for raw in items {
                    let Ok(m) = Message::parse(&raw) else {
                        continue;
                    };
                    if m.headers.id != wanted {
                        continue;
                    }
                    let removed: i64 = conn.lrem(&key, 1, &raw).await.map_err(command_error)?;
                    if removed > 0 {
                        let (status, exc) = meta::exception(&revoked);
                        let text =
                            meta::encode(&m.headers.id, &status, exc, None, vec![], None, None);
                        let mkey = meta::key(&m.headers.id);
                        let mut pipe = redis::pipe();
                        pipe.set_ex(
                            &mkey,
                            &text,
                            self.inner.config.result_expires.as_secs().max(1),
                        )
                        .ignore()
                        .publish(&mkey, &text)
                        .ignore();
                        let () = pipe.query_async(&mut conn).await.map_err(command_error)?;
                        return Ok(CancelOutcome::Removed);
                    }
                }
            }
        }
        Ok(CancelOutcome::NotFound)
    }

    async fn record(&self, id: TaskId) -> Result<Option<TaskRecord>, BackendError> {
        let local = lock(&self.inner.inflight).get(&id).map(|f| {
            if f.held_until.is_some() {
                TaskState::Scheduled
            } else {
                TaskState::Running
            }
        });
        let meta = self.get_meta(&id.to_string()).await?;
        Ok(match (meta, local) {
            (Some(m), local) => {
                let state = match (m.state(), local) {
                    (s, _) if s.is_final() => s,
                    (_, Some(l)) => l,
                    (s, None) => s,
                };
                let progress = (m.status == "PROGRESS")
                    .then(|| Payload::encode(&m.result).ok())
                    .flatten();
                Some(TaskRecord {
                    id,
                    state,
                    outcome: m.outcome(),
                    progress,
                })
            }
            (None, Some(state)) => Some(TaskRecord {
                id,
                state,
                outcome: None,
                progress: None,
            }),
            (None, None) => None,
        })
    }

    async fn wait_result(
        &self,
        id: TaskId,
        timeout: Option<Duration>,
    ) -> Result<Option<Outcome>, BackendError> {
        let channel = meta::key(&id.to_string());
        // As Celery's AsyncResult.get(): subscribe to the result's channel, then read the key,
        // so a result stored in between is not missed; one subscription connection per backend.
        let wait = async {
            loop {
                let mut waiter = self
                    .inner
                    .results
                    .watch(&channel)
                    .await
                    .map_err(command_error)?;
                if let Some(outcome) = self
                    .get_meta(&id.to_string())
                    .await?
                    .and_then(|m| m.outcome())
                {
                    return Ok(Some(outcome));
                }
                match (&mut waiter.rx).await {
                    Ok(text) => {
                        if let Some(outcome) = meta::parse(&text).and_then(|m| m.outcome()) {
                            return Ok(Some(outcome));
                        }
                        // STARTED, RETRY, PROGRESS: not final; watch again.
                    }
                    // The subscription connection dropped: subscribe again, read again.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        };
        match timeout {
            Some(t) => match tokio::time::timeout(t, wait).await {
                Ok(r) => r,
                Err(_) => Ok(None),
            },
            None => wait.await,
        }
    }

    async fn set_progress(&self, lease: &Lease, progress: Payload) -> Result<(), BackendError> {
        let celery_id = {
            let inflight = lock(&self.inner.inflight);
            match inflight.get(&lease.id) {
                Some(f) if f.attempt == lease.attempt => f.message.headers.id.clone(),
                _ => return Ok(()),
            }
        };
        // Celery's `update_state(state="PROGRESS", meta=...)`.
        let value: Value = progress.decode().unwrap_or(Value::Null);
        let text = meta::encode(&celery_id, "PROGRESS", value, None, vec![], None, None);
        let key = meta::key(&celery_id);
        let mut pipe = redis::pipe();
        pipe.set_ex(
            &key,
            &text,
            self.inner.config.result_expires.as_secs().max(1),
        )
        .ignore()
        .publish(&key, &text)
        .ignore();
        let () = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        Ok(())
    }

    async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BackendError> {
        let key = dead_key(self.inner.config.kombu_queue(queue));
        let stop = isize::try_from(limit)
            .unwrap_or(isize::MAX)
            .saturating_sub(1);
        let items: Vec<String> = self
            .conn()
            .lrange(&key, 0, stop)
            .await
            .map_err(command_error)?;
        Ok(items
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .collect())
    }

    async fn requeue_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        let kombu = self.inner.config.kombu_queue(queue).to_owned();
        let key = dead_key(&kombu);
        let mut conn = self.conn();
        let items: Vec<String> = conn.lrange(&key, 0, -1).await.map_err(command_error)?;
        let mut n = 0;
        for text in items {
            if n >= limit {
                break;
            }
            let Ok(letter) = serde_json::from_str::<DeadLetter>(&text) else {
                continue;
            };
            if !select.matches(letter.id, letter.reason) {
                continue;
            }
            let Some(raw) = letter.raw.as_deref() else {
                continue;
            };
            let Ok(mut message) = Message::parse(raw) else {
                continue;
            };
            message.headers.retries = 0;
            message.properties.delivery_tag = Some(uuid::Uuid::new_v4().to_string());
            let list = protocol::list_key(&kombu, message.properties.priority.unwrap_or(0));
            let mut pipe = redis::pipe();
            pipe.atomic()
                .lrem(&key, 1, &text)
                .ignore()
                .lpush(list, message.to_json().map_err(codec_error)?)
                .ignore();
            let () = pipe.query_async(&mut conn).await.map_err(command_error)?;
            n += 1;
        }
        Ok(n)
    }

    async fn purge_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        let key = dead_key(self.inner.config.kombu_queue(queue));
        let mut conn = self.conn();
        if *select == DeadSelection::All && limit == usize::MAX {
            let mut pipe = redis::pipe();
            pipe.atomic().llen(&key).del(&key).ignore();
            let (n,): (usize,) = pipe.query_async(&mut conn).await.map_err(command_error)?;
            return Ok(n);
        }
        let items: Vec<String> = conn.lrange(&key, 0, -1).await.map_err(command_error)?;
        let mut n = 0;
        for text in items {
            if n >= limit {
                break;
            }
            // A dead letter that does not decode is only removed by purging them all.
            let Ok(letter) = serde_json::from_str::<DeadLetter>(&text) else {
                continue;
            };
            if select.matches(letter.id, letter.reason) {
                let removed: usize = conn.lrem(&key, 1, &text).await.map_err(command_error)?;
                n += removed;
            }
        }
        Ok(n)
    }

    async fn incr_counter(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, BackendError> {
        let key = counter_key(key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .incr(&key, by)
            .pexpire(&key, i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
            .ignore();
        let (n,): (i64,) = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        Ok(n)
    }

    async fn queue_stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        let kombu = self.inner.config.kombu_queue(queue).to_owned();
        let mut pipe = redis::pipe();
        for key in protocol::list_keys(&kombu) {
            pipe.llen(key);
        }
        pipe.llen(dead_key(&kombu));
        let counts: Vec<usize> = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(command_error)?;
        let (ready, dead) = counts.split_at(counts.len().saturating_sub(1));
        let (delayed, running) = {
            let inflight = lock(&self.inner.inflight);
            let mine = inflight.values().filter(|f| f.kombu_queue == kombu);
            mine.fold((0, 0), |(d, r), f| {
                if f.held_until.is_some() {
                    (d + 1, r)
                } else {
                    (d, r + 1)
                }
            })
        };
        Ok(QueueStats {
            ready: ready.iter().sum(),
            delayed,
            running,
            dead: dead.first().copied().unwrap_or(0),
            // Kombu queues cannot be paused, and the age of their head is not kept.
            paused: false,
            oldest_ready: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_mutex_lives_no_longer_than_the_visibility_timeout() {
        assert_eq!(mutex_expire_ms(Duration::from_secs(2)), 2_000);
        assert_eq!(mutex_expire_ms(Duration::from_millis(100)), 1_000);
        assert_eq!(mutex_expire_ms(Duration::from_secs(3_600)), 300_000);
    }
}
