//! # taskq-redis: the Redis backend of taskq
//!
//! Link this crate and set `TASKQ_URL=redis://host:6379/0`: `.delay()`, `AsyncResult::get()`
//! and `taskq::worker::run()` then go through Redis, with no other code change.
//!
//! ```no_run
//! // Cargo.toml: taskq, taskq-redis. In main.rs, make sure the crate is linked:
//! use taskq_redis as _;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), taskq::Error> {
//!     // TASKQ_URL=redis://127.0.0.1:6379/0
//!     taskq::worker::run().await?;
//!     Ok(())
//! }
//! ```
//!
//! Or build one by hand with [`RedisBackend::builder`] (key prefix, reconnection patience) and
//! hand it to [`taskq::Client::new`].
//!
//! The URL is `redis://[[user]:password@]host[:port][/db][?prefix=name]`. `rediss://` (TLS) is
//! not supported by this build. The server must be Redis 7.0 or newer.
//!
//! ## Key layout
//!
//! Every key of a queue starts with the hash tag `{prefix:queue}`, so a queue lives in one
//! Redis Cluster slot and every script touches one slot (a fetch from several queues at once
//! is the exception: give such queues one slot, or fetch them separately, on a cluster).
//!
//! ```text
//!  {taskq:emails}:r0 .. :r9    lists   ready ids, one list per priority, oldest first
//!  {taskq:emails}:env          hash    id -> "priority|reply channel|envelope JSON"
//!  {taskq:emails}:denv         hash    the same for tasks published with a due time, until due
//!  {taskq:emails}:attempt      hash    id -> deliveries that ended unfinished (absent: 0);
//!                                      a delivery is attempt count + 1 (the fencing token)
//!  {taskq:emails}:delayed      zset    id by due time (ms)              countdown, eta, retries
//!  {taskq:emails}:lease        zset    id by lease deadline (ms)        running
//!  {taskq:emails}:cancel       set     running ids that were revoked
//!  {taskq:emails}:progress     hash    id -> last progress report
//!  {taskq:emails}:watch        hash    id -> reply channels of waiters in other processes
//!  {taskq:emails}:dead         list    dead letters, oldest first
//!  {taskq:emails}:wake         list    at most one wake-up marker; idle workers BLPOP it
//!  {taskq:emails}:results      hash    id -> "<expires ms>|{"outcome":..,"progress":..}"
//!  {taskq:emails}:expiry       zset    "id id ..", one per batch of results expiring together,
//!                                      by that expiry (ms): what the sweep deletes
//!  {taskq:emails}:paused       string  present while the queue is paused (fetches skip it)
//!  {taskq:emails}:events       stream  the event log, capped (XADD MAXLEN ~ 10,000 entries);
//!                                      one entry per write, field `c`: its events, a line
//!                                      each, tab-separated; a position is "<entry id>.<line>"
//!  {taskq:~workers}:info       hash    worker id -> its last heartbeat (JSON)
//!  {taskq:~workers}:deadline   zset    worker id by when its heartbeat runs out (ms)
//!  taskq:queues                set     every queue name seen (to find a task by id alone)
//!  taskq:counter:{<key>}       string  chord counters (INCRBY + PEXPIRE)
//!  taskq:reply:<uuid>          channel one per backend instance: completions are announced here
//! ```
//!
//! The envelope lives once, in `env`; lists and sorted sets hold ids. Its header carries the
//! priority and the reply channel, so the scripts route a message and tell its waiters without
//! decoding its JSON. A message whose result is not kept (`ignore_result`) names no reply
//! channel, and its id is not remembered by the producer: nothing waits on it through a
//! handle, and a waiter that asks the backend directly is told through `watch`. The scripts move ids, never messages: on this server every value that
//! crosses between Lua and Redis costs more than the command it is for (about 0.15 µs per
//! argument or reply element), so the fetch script leases ids and the worker reads the
//! messages with a plain `HMGET`. The attempt count is written only when a delivery ends
//! unfinished (a reclaimed lease, a retry, a second copy of a leased id), so while nothing
//! fails the hash does not exist and costs nothing. Results are fields of one hash per queue,
//! each carrying its expiry; the sweep list is one sorted-set member per batch (two commands
//! per batch instead of one `SET` or sorted-set entry per task): readers ignore expired ones,
//! and the fetch script's timer pass deletes them (so they are swept while some worker serves
//! the queue), each only if its own expiry passed (a newer result of the same id has an entry
//! of its own).
//!
//! A stored result also says the task's name, the attempt that ended it, when it started and
//! finished, and why it was dead-lettered, so that `inspect` can tell them once the message is
//! gone.
//!
//! Due times and lease deadlines are the clients' wall clocks, like `eta`: keep the fleet's
//! clocks in sync (NTP); a skew well under a third of the lease is harmless.
//!
//! ## The life of a task
//!
//! ```text
//!  publish ── pipelined MULTI: HSET env + RPUSH r<p> (scheduled: HSET denv + ZADD
//!     │        delayed), wake marker, XADD events (the enqueues, recorded just before);
//!     │        concurrent publishes of one process coalesce into one pipeline
//!     ▼
//!  fetch.lua ── paused queues left out; (timer pass, every 20 ms when busy: reclaim expired
//!     │         leases, promote due delayed tasks from denv, sweep expired results) LMPOP
//!     │         across r9..r0, ZADD NX lease, return ids and attempts: all in one atomic
//!     │         step; then a plain HMGET env (nothing ready: the worker BLPOPs the wake list
//!     │         until the earliest due time)
//!     ▼
//!  complete_fast.lua ── per batch: XADD the events waiting (started, succeeded, ...), then,
//!                  fenced by the leases (and the attempt counts, if any), ZREM lease, HDEL
//!                  env, HSET results + one ZADD expiry, one PUBLISH per batch and reply
//!                  channel (the outcome rides in it, so a completion whose result is not
//!                  stored still wakes its waiters); complete.lua item by item when anything
//!                  is unusual
//!  retry.lua / dead_letter.lua (with the events waiting, like complete) / release.lua /
//!  extend.lua / cancel.lua / progress.lua / vanished.lua (a leased id whose message was gone:
//!  stale copy or garbage)
//!
//!  operators: purge.lua (waiting messages, each resolved as cancelled), requeue.lua and
//!  purge_dead.lua (dead letters by selection), heartbeat.lua (the worker registry), pause and
//!  resume (SET / DEL paused + a wake marker)
//! ```
//!
//! ## Events
//!
//! Every state change a client or worker records ([`taskq::events`]) goes to the capped stream
//! of its queue without a round trip of its own: the backend instance buffers it and the next
//! write to that queue carries it (the publish pipeline, or an `XADD` pipelined just ahead of
//! the `complete`, `retry`, `dead_letter` and `publish_once` scripts, in the same round trip);
//! events no write took within 5 ms are written by a flush of their own, and a worker's
//! warm shutdown flushes the rest. One process's events reach the log in the order it recorded
//! them (a write takes the events and is handed to the connection under one lock), and an
//! enqueue is logged no later than its message is visible, so the log shows each task's events
//! in the order of its life. A reader (`read_events`) reads with `XRANGE` from its cursor and
//! then blocks in `XREAD BLOCK` on a connection of its own, woken by the write itself; it
//! resumes from a cursor after a reconnect without losing what the stream still holds. A
//! write retried after a lost connection may log its events twice or out of order.
//! `TASKQ_EVENTS=off` stops a process from recording them.
//!
//! ## Operations
//!
//! - **Workers** announce themselves with every heartbeat: a description in one hash, a
//!   deadline (now + three intervals) in a sorted set; `workers()` lists those whose deadline
//!   is ahead, so a killed worker drops out when its TTL runs out, and a warm shutdown removes
//!   it at once.
//! - **Pause** is a key the fetch script reads: every worker stops taking from the queue at
//!   its next fetch, nothing moves meanwhile, and resuming pushes the wake marker that wakes
//!   the workers blocked on the queue.
//! - **Listings** read the structures above (no copy kept for inspection), in pages whose
//!   cursor is an offset; a leased task names the worker whose heartbeat says it runs it.
//!
//! ## Guarantees
//!
//! - **At least once.** Fetching moves a task into a lease in one atomic step; a worker that
//!   dies loses nothing: its leases expire and the next fetch puts the tasks back. A task may
//!   therefore run more than once: make tasks idempotent.
//! - **Fenced.** Every change to a running task names its lease's attempt number; a worker
//!   whose lease expired and whose task was delivered again writes nothing (its completion,
//!   retry, dead letter, extension or progress is refused), so one stored result per delivery
//!   that won.
//! - **No polling.** Idle workers block on the queue's wake list on one dedicated connection,
//!   for exactly as long as the earliest delayed task or lease needs; result waiters are woken
//!   by a pub/sub message on the instance's reply channel (one subscription per instance).
//! - **Connection loss.** Commands retry with backoff for up to the reconnect timeout (30 s by
//!   default); the subscription is re-armed and every waiter re-reads the stored result after
//!   a reconnect. A Redis restarted with append-only persistence loses nothing. A server
//!   unreachable at start is [`taskq::BackendError::Unavailable`], naming the URL without its
//!   password.
//! - **Bad input.** Garbage in a queue's keys and envelopes that do not decode go to the dead
//!   letters (reason `malformed_message`, with the raw text); the worker keeps serving.
//!
//! A waiter in a process other than the one that sent the task registers itself in the queue's
//! `watch` hash, so it is woken too; a task whose result is not kept (`ignore_result`) can only
//! wake waiters that were subscribed when it finished.
//!
//! ## Linking
//!
//! The `redis://` scheme is registered at link time. The linker keeps the registration only if
//! the crate is linked: `use taskq_redis as _;` in the binary does it (a dependency that is never
//! named is dropped). [`register`] exists to make that explicit.
//!
//! ## Features
//! - `testing`: `taskq_redis::testing::RedisServer`, a private `redis-server` for tests (started
//!   from the binary on `PATH`, killable and restartable).

#![warn(missing_docs)]

mod backend;
mod codec;
mod conn;
mod keys;
mod notify;
mod scripts;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

pub use backend::{
    RedisBackend, RedisBackendBuilder, DEFAULT_EVENT_LOG_ENTRIES, DEFAULT_PREFIX,
    DEFAULT_RECONNECT_TIMEOUT,
};

taskq::__private::link_submit! {
    krate = [taskq],
    slice = BACKENDS,
    ty = taskq::backend::BackendFactory,
    entry = taskq::backend::BackendFactory {
        scheme: "redis",
        connect: |url| {
            let url = url.to_owned();
            Box::pin(async move {
                let backend = RedisBackend::connect(&url).await?;
                Ok(Arc::new(backend) as Arc<dyn taskq::backend::Backend>)
            })
        },
    }
}

/// Makes sure this crate, and with it the `redis://` URL scheme, is linked into the binary.
///
/// Naming the crate anywhere (`use taskq_redis as _;`) is enough; calling this says so
/// explicitly. It returns whether `taskq::backend::connect` now knows the `redis` scheme.
///
/// ```
/// assert!(taskq_redis::register());
/// ```
pub fn register() -> bool {
    taskq::link::schemes().any(|s| s == "redis")
}
