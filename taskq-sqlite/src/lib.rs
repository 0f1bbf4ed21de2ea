//! # taskq-sqlite: the SQLite backend of taskq
//!
//! One file on one machine keeps every task across restarts: link this crate and set
//! `TASKQ_URL=sqlite:///var/lib/app/tasks.db`. `.delay()`, `AsyncResult::get()` and
//! `taskq::worker::run()` then go through the file, with no other code change.
//!
//! ```no_run
//! // Cargo.toml: taskq, taskq-sqlite. In main.rs, make sure the crate is linked:
//! use taskq_sqlite as _;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), taskq::Error> {
//!     // TASKQ_URL=sqlite:///var/lib/app/tasks.db
//!     taskq::worker::run().await?;
//!     Ok(())
//! }
//! ```
//!
//! Or open one by hand with [`SqliteBackend::connect`] or [`SqliteBackend::open`] and hand it
//! to [`taskq::Client::new`].
//!
//! The URL is `sqlite:///absolute/path.db` or `sqlite://relative/path.db`, with optional
//! parameters `synchronous=full|normal` (default `full`), `busy_timeout_ms` (default 5000),
//! `watch_ms` (default 20) and `readers` (default 4); see [`SqliteConfig`].
//!
//! ## How it works
//!
//! ```text
//!  every write of the process ──► one writer thread (owns the write connection)
//!        publish, fetch,            BEGIN IMMEDIATE
//!        complete, retry, ...         SAVEPOINT; op; RELEASE   (per op: a failing op
//!                                     SAVEPOINT; op; RELEASE    rolls back alone)
//!                                     ...   (every op queued meanwhile, up to 512)
//!                                   COMMIT  (one sync for the whole batch)
//!                                   then each caller gets its answer and wakes, in memory,
//!                                   the fetchers and result waiters its write concerns
//!  reads (record, stats, ...) ────► a small pool of read connections (WAL: never blocked)
//! ```
//!
//! - **WAL, checked.** Every connection sets `busy_timeout` and `synchronous` (and the file
//!   `journal_mode = WAL`), then reads each back: a pragma that did not take effect fails the
//!   open, naming it, instead of running with other settings.
//! - **Group commit.** Writes are queued to one thread that runs everything queued at the
//!   moment in one `BEGIN IMMEDIATE` transaction, so a busy process pays one disk sync for
//!   hundreds of operations, and no write can hit `SQLITE_BUSY_SNAPSHOT` (every write
//!   transaction takes the write lock at its start).
//! - **No polling in a process.** A fetch that finds nothing sleeps until a write of this
//!   process may have made something ready (a publish, a retry due, a resume, a permit
//!   given back), or until the earliest due time or lease deadline it read; a result waiter
//!   sleeps until the completion's commit hands it the outcome.
//! - **Several processes on one file.** The busy timeout makes writers of different processes
//!   take turns. To notice another process's commits, the writer thread reads
//!   `PRAGMA data_version` every `watch_ms` (20 ms by default) while it is idle: that value
//!   changes only when another connection commits, and then this process's fetchers and
//!   waiters look again. That short check is the only timer, and only for other processes.
//!   A waiter in one process for a task whose result is not kept (`ignore_result`) and that
//!   finishes in another process is not woken (nothing is stored to find); it times out.
//! - **Leases.** A fetch moves tasks to `leased` with `attempt + 1`, the fencing token: a
//!   completion, retry, release, dead letter, extension or progress report names the attempt
//!   and changes nothing when the lease is no longer current. Expired leases go back to ready
//!   at the next fetch of their queue, in any process; after a crash nothing is lost: every
//!   task is queued, leased until its deadline (then queued again), or finished with its
//!   result.
//! - **Small hot table.** `tasks` holds live tasks only; a task's end deletes its row and
//!   stores its outcome in `results` (with its expiry) in the same transaction.
//!
//! ## Linking
//!
//! The `sqlite://` scheme is registered at link time. The linker keeps the registration only
//! if the crate is linked: `use taskq_sqlite as _;` in the binary does it. [`register`]
//! exists to make that explicit.
//!
//! ## Features
//! - `testing`: [`testing::TempDb`], a database file in a fresh temporary directory.

#![warn(missing_docs)]

mod backend;
mod config;
mod error;
mod migrate;
mod queries;
#[cfg(feature = "testing")]
pub mod testing;
mod wake;
mod writer;

use std::sync::Arc;

pub use backend::{SqliteBackend, EVENTS_PER_QUEUE};
pub use config::{
    SqliteConfig, Synchronous, UrlError, DEFAULT_BUSY_TIMEOUT, DEFAULT_WATCH_INTERVAL,
};
pub use error::StoreError;

taskq::__private::link_submit! {
    krate = [taskq],
    slice = BACKENDS,
    ty = taskq::backend::BackendFactory,
    entry = taskq::backend::BackendFactory {
        scheme: "sqlite",
        connect: |url| {
            let url = url.to_owned();
            Box::pin(async move {
                let backend = SqliteBackend::connect(&url).await?;
                Ok(Arc::new(backend) as Arc<dyn taskq::backend::Backend>)
            })
        },
    }
}

/// Makes sure this crate, and with it the `sqlite://` URL scheme, is linked into the binary.
///
/// Naming the crate anywhere (`use taskq_sqlite as _;`) is enough; calling this says so
/// explicitly. It returns whether `taskq::backend::connect` now knows the `sqlite` scheme.
///
/// ```
/// assert!(taskq_sqlite::register());
/// ```
pub fn register() -> bool {
    taskq::link::schemes().any(|s| s == "sqlite")
}
