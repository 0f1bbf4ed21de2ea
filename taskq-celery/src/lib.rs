//! # taskq-celery: Rust and Python Celery on one Redis
//!
//! A taskq backend that speaks Celery's message protocol (version 2, JSON) on kombu's Redis
//! transport, and Celery's Redis result backend. Link it and set
//! `TASKQ_URL=celery+redis://host:6379/0`: a Python `add.delay(2, 3)` then runs on a Rust
//! worker serving `#[taskq::task(name = "tasks.add")]`, a Rust client calls Python tasks, and
//! both sides read each other's results. Move one hot task at a time.
//!
//! ```no_run
//! use taskq_celery as _; // link the `celery+redis://` scheme
//!
//! // Python: @app.task(name="tasks.add") def add(a, b): ...  — now served from Rust:
//! #[taskq::task(name = "tasks.add")]
//! async fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), taskq::Error> {
//!     // TASKQ_URL=celery+redis://127.0.0.1:6379/0 TASKQ_QUEUES=default
//!     taskq::worker::run().await?;
//!     Ok(())
//! }
//! ```
//!
//! Calling a task that exists only in Python, with a typed result:
//!
//! ```no_run
//! # async fn demo(client: &taskq::Client) -> Result<(), taskq::Error> {
//! let product = taskq_celery::send_task::<i64>(client, "tasks.mul", (6, 7), ()).await?;
//! assert_eq!(product.get().await?, 42);
//! # Ok(()) }
//! ```
//!
//! ## The URL
//!
//! `celery+redis://[[user]:password@]host[:port][/db][?visibility_timeout=3600&
//! default_queue=celery&result_expires=86400&restore_interval=10]`: one Redis server as both
//! broker and result backend (Celery's `broker_url` and `result_backend` pointing at the same
//! database). taskq's queue `default` is Celery's `task_default_queue`, `celery`; every other
//! queue name is the same on both sides.
//!
//! ## What is on Redis (all of it kombu's and Celery's own layout)
//!
//! ```text
//!  celery, celery\x06\x163, \x06\x166, \x06\x169   lists    messages; LPUSH in, taken from the
//!                                                          right; step 0 first (kombu priorities)
//!  unacked                                         hash     delivery tag -> [message, exchange,
//!                                                          routing key]: taken, not acknowledged
//!  unacked_index                                   zset     delivery tag by time taken (seconds)
//!  unacked_mutex                                   string   who restores past-timeout messages
//!  celery-task-meta-<id>                           string   the result (SETEX), also PUBLISHed on a
//!                                                          channel of the same name
//!  taskq-celery.dead.<queue>                       list     dead letters (taskq's, not Celery's)
//! ```
//!
//! ## Mapping
//!
//! - **Arguments.** A message's body is `[args, kwargs, embed]`. Positional arguments map onto
//!   the Rust function's parameters in order, keyword arguments by name, into the JSON object
//!   the task's struct deserializes from (the order comes from
//!   [`taskq::registry::TaskEntry::params`]). Too many positional arguments, or one given twice,
//!   fails the task as Python would (`TypeError`-like message, state `FAILURE`). A Rust task
//!   sent from Rust goes out as keyword arguments, which Python accepts too.
//! - **Results.** `celery-task-meta-<id>` with `status`, `result`, `traceback`, `children`,
//!   `date_done`, `task_id` (and `parent_id`, `group_id`), kept for `result_expires` (a day),
//!   published on the same channel, which is what `AsyncResult.get()` waits on. Rust waiters do
//!   the same: subscribe (one pub/sub connection per backend instance for all its waiters),
//!   then read. `ignore_result` stores and publishes nothing.
//! - **Errors.** A Rust error reaches Python as `RuntimeError(<the error's message>)`
//!   (`exc_module: builtins`), a timeout as `celery.exceptions.TimeLimitExceeded`, a revoked or
//!   expired task as `TaskRevokedError` with state `REVOKED`. A Python exception reaches Rust as
//!   [`taskq::Error::TaskFailed`] whose message is `ValueError: boom`.
//! - **Priorities.** taskq's 0–9 is higher-first; kombu's Redis transport is lower-first in four
//!   steps (0, 3, 6, 9), and Celery's default, 0, is already the highest. So taskq's default (5)
//!   and above are Celery's 0, and lower taskq priorities demote (see
//!   [`protocol::to_celery_priority`]).
//! - **Retries.** As `Task.retry`: the same message again with `retries + 1` and an `eta`, and
//!   state `RETRY` meanwhile. A Rust task's attempt is `retries + 1`; its `retries = n` option
//!   bounds it.
//! - **Chains and callbacks.** A success sends the last signature of the embedded `chain` (the
//!   rest of the chain goes with it) and every `callbacks` signature, each with the result in
//!   front of its arguments unless immutable (`.si()`), with `root_id` kept and `parent_id` set,
//!   its `task_id` from the signature's options, queue from its `queue`/`routing_key` option or
//!   the default queue (Python's `task_routes` are not known to Rust), and `children` recorded
//!   in the result. It happens in the same MULTI/EXEC as storing the result and acknowledging.
//! - **`eta`/`countdown`.** As a Celery worker on Redis does: the message is taken (it sits in
//!   `unacked`) and held in the worker's memory until due. Better than Celery: its
//!   `unacked_index` score is set to the eta, so it is not restored (and run twice) when the eta
//!   is further away than the visibility timeout; if the worker dies, it comes back one
//!   visibility timeout after its eta. [`CeleryBackend::restore_held`] hands held messages back
//!   at shutdown.
//! - **`expires`.** A message taken after its expiry is not run: state `REVOKED` (`expired`).
//!
//! ## Consuming, acknowledging, restoring
//!
//! kombu's Redis consumer BRPOPs a message and then, in a second command, records it in
//! `unacked`/`unacked_index`: a worker (or a connection) that dies in between loses the message
//! for good. This crate never lets a message leave Redis except inside one Lua script that pops
//! it and records it in `unacked` and `unacked_index` atomically, in kombu's exact format (so a
//! Python worker's `restore_visible` can put it back). To wait without polling, an idle worker
//! blocks on `BLMOVE list list RIGHT RIGHT`, which moves a message from a list's tail to the same
//! tail — the list is unchanged — and wakes it; then the script takes the message.
//! Acknowledging removes both entries, in the same MULTI/EXEC as the result and the chain's next
//! step. Restoring follows kombu's `restore_visible`: under `unacked_mutex` (`SET NX PX`,
//! released with kombu's compare-and-delete script), entries older than the visibility timeout
//! go back to the consumption end of their list marked `redelivered`, each by one
//! compare-and-restore script (kombu uses a WATCH transaction). A Rust worker refreshes the
//! score of what it runs every third of its lease, so its long tasks are not restored while it
//! lives — a Python worker does not, so the visibility timeout must exceed the longest Python
//! task, as Celery documents.
//!
//! So a Python and a Rust worker can drain one queue together, and a killed Rust worker loses
//! nothing: its messages come back after the visibility timeout (one hour unless configured, as
//! kombu's), on whichever side restores first.
//!
//! ## What does not carry over, and why
//!
//! - **Workflows of taskq** (`then`, `group`, `chord`, DAGs, `#[workflow]`): they need
//!   `publish_once`, `join` and `resolve`, which have no counterpart in Celery's layout; this
//!   backend answers [`taskq::BackendError::Unsupported`]. Use Celery's own chains, which travel
//!   in the message and work across both languages.
//! - **Celery chords and groups with a Rust member**: chord counting lives in Celery's result
//!   backend code (`on_chord_part_return`); a Rust worker stores the member's result but does
//!   not count it, so the callback would not run. Logged as a warning. Keep chord members in
//!   Python. Likewise `link_error` errbacks are not called by Rust workers (their calling
//!   convention passes Python objects).
//! - **Revocation across languages**: Celery revokes by broadcasting to workers over its
//!   `pidbox` mailbox, which Rust workers do not join. `taskq`'s revoke cancels what this process
//!   holds and removes queued messages from lists (a scan, O(queue length)).
//! - **Serializers other than JSON** (pickle, msgpack, yaml): unsafe or untyped; such messages go
//!   to the dead letters. `global_keyprefix`, fanout queues and non-default `sep` or
//!   `priority_steps` are not supported.
//! - **Custom task ids** that are not UUIDs run fine (their result key keeps the id); Rust
//!   handles see them as a UUID v5 derived from the id.
//! - **Tasks a worker does not know**: a Rust worker that takes a message for a task it does not
//!   serve fails it (`FAILURE`, like Celery's `NotRegistered` handling, which also discards the
//!   message) and keeps it in its dead letters. Give Python-only tasks queues that Rust workers
//!   do not consume, as with any mixed Celery fleet.
//! - **Lease fencing** is per process: Celery messages carry no attempt counter, so a message
//!   restored while a stalled Rust worker still runs it can run twice (as in Celery).
//!
//! ## Linking
//!
//! The `celery+redis://` scheme is registered at link time; name the crate once
//! (`use taskq_celery as _;`) so the linker keeps it. [`register`] says so explicitly.

#![warn(missing_docs)]

mod backend;
pub mod config;
mod error;
pub mod meta;
pub mod protocol;
mod results;
mod send;
#[cfg(feature = "testing")]
pub mod testing;
mod time;

use std::sync::Arc;

pub use backend::CeleryBackend;
pub use config::Config;
pub use error::CeleryError;
pub use send::{send_task, SendTask};

/// The backend's name, in logs and errors.
pub const BACKEND: &str = "celery-redis";

/// The URL scheme this crate registers.
pub const SCHEME: &str = "celery+redis";

taskq::__private::link_submit! {
    krate = [taskq],
    slice = BACKENDS,
    ty = taskq::backend::BackendFactory,
    entry = taskq::backend::BackendFactory {
        scheme: SCHEME,
        connect: |url| {
            let url = url.to_owned();
            Box::pin(async move {
                let backend = CeleryBackend::connect(&url).await?;
                Ok(Arc::new(backend) as Arc<dyn taskq::backend::Backend>)
            })
        },
    }
}

/// Makes sure this crate, and with it the `celery+redis://` scheme, is linked into the binary;
/// returns whether `taskq::backend::connect` knows the scheme.
///
/// ```
/// assert!(taskq_celery::register());
/// ```
pub fn register() -> bool {
    taskq::link::schemes().any(|s| s == SCHEME)
}
