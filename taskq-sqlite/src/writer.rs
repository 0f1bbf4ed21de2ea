//! The database handle: one writer thread that owns the write connection and commits every
//! write of the process in few `BEGIN IMMEDIATE` transactions (group commit), a small pool of
//! read connections, and the check for other processes' commits.
//!
//! ```text
//!  async callers ── db.write(op) ──► channel ──► writer thread:
//!                                                 take the first op, then every op queued
//!                                                 (at most MAX_BATCH); BEGIN IMMEDIATE;
//!                                                 SAVEPOINT / op / RELEASE (or ROLLBACK TO)
//!                                                 per op; COMMIT; then hand each op its
//!                                                 answer (never before the commit)
//!  async callers ── db.read(f) ──► a read connection of the pool, inline
//! ```
//!
//! While the writer waits for work it runs `PRAGMA data_version` on its own connection every
//! `watch_interval` (20 ms by default): that number changes only when *another* connection
//! commits, that is another process (this process's readers never write), so the writer
//! wakes this process's fetchers and result waiters, which look again. Within the process
//! nothing polls: a write's caller wakes whoever waits on it once its commit is done.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::config::SqliteConfig;
use crate::error::StoreError;
use crate::wake::Wake;

/// The most operations one transaction takes.
const MAX_BATCH: usize = 512;

/// How often `BEGIN IMMEDIATE` is tried (each waits up to the busy timeout) before the batch
/// fails.
const BEGIN_TRIES: u32 = 3;

/// One queued write: run inside the open transaction, then told how the commit went.
trait Op: Send {
    /// Runs the operation; answers whether it succeeded and what to deliver after the commit.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Deliver>);
    /// The batch failed before the operation ran.
    fn fail(self: Box<Self>, err: StoreError);
}

/// An operation's answer, held until its transaction is over.
trait Deliver: Send {
    fn deliver(self: Box<Self>, commit: Result<(), StoreError>);
}

struct WriteOp<F, T> {
    f: F,
    tx: oneshot::Sender<Result<T, StoreError>>,
}

struct Pending<T> {
    result: Result<T, StoreError>,
    tx: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Op for WriteOp<F, T>
where
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Deliver>) {
        let WriteOp { f, tx } = *self;
        let result = match std::panic::catch_unwind(AssertUnwindSafe(|| f(conn))) {
            Ok(r) => r,
            Err(_) => Err(StoreError::Panicked),
        };
        (result.is_ok(), Box::new(Pending { result, tx }))
    }

    fn fail(self: Box<Self>, err: StoreError) {
        let _ = self.tx.send(Err(err));
    }
}

/// A write nobody awaits (an event): `after` runs once its transaction committed.
struct Detached<F> {
    f: F,
    after: Box<dyn FnOnce() + Send>,
}

struct After(Box<dyn FnOnce() + Send>);

impl<F> Op for Detached<F>
where
    F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Deliver>) {
        let Detached { f, after } = *self;
        let ok = match std::panic::catch_unwind(AssertUnwindSafe(|| f(conn))) {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "taskq-sqlite: a background write failed");
                false
            }
            Err(_) => false,
        };
        (ok, Box::new(After(after)))
    }

    fn fail(self: Box<Self>, err: StoreError) {
        tracing::warn!(error = %err, "taskq-sqlite: a background write failed");
    }
}

impl Deliver for After {
    fn deliver(self: Box<Self>, commit: Result<(), StoreError>) {
        if commit.is_ok() {
            (self.0)();
        }
    }
}

impl<T: Send + 'static> Deliver for Pending<T> {
    fn deliver(self: Box<Self>, commit: Result<(), StoreError>) {
        let out = match (self.result, commit) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
            (Ok(v), Ok(())) => Ok(v),
        };
        let _ = self.tx.send(out);
    }
}

/// The open database: the writer's queue and the read connections.
pub(crate) struct Db {
    jobs: mpsc::Sender<Box<dyn Op>>,
    readers: Mutex<Vec<Connection>>,
    config: SqliteConfig,
    /// This process's sleeping fetchers and result waiters.
    pub(crate) wake: Arc<Wake>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.config.path)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the database, checks its pragmas, applies the migrations and
    /// starts the writer thread. Blocking: call it off the async threads.
    pub(crate) fn open(config: SqliteConfig) -> Result<Self, StoreError> {
        // SQLite's errors while opening (not a database, no such directory, read-only) are
        // errors of the file: they name it.
        let of_file = |e: StoreError| match e {
            StoreError::Sql(source) => StoreError::Open {
                path: config.path.clone(),
                source,
            },
            other => other,
        };
        let writer = open_connection(&config, false).map_err(of_file)?;
        crate::migrate::apply(&writer).map_err(of_file)?;
        let mut readers = Vec::with_capacity(config.readers);
        for _ in 0..config.readers.min(2) {
            readers.push(open_connection(&config, true).map_err(of_file)?);
        }
        let wake = Arc::new(Wake::default());
        let (jobs, rx) = mpsc::channel::<Box<dyn Op>>();
        let thread_wake = Arc::clone(&wake);
        let watch = config.watch_interval;
        std::thread::Builder::new()
            .name("taskq-sqlite-writer".to_owned())
            .spawn(move || writer_loop(writer, rx, thread_wake, watch))
            .map_err(StoreError::from)?;
        Ok(Self {
            jobs,
            readers: Mutex::new(readers),
            config,
            wake,
        })
    }

    /// The configuration it was opened with.
    pub(crate) fn config(&self) -> &SqliteConfig {
        &self.config
    }

    /// Runs `op` on the writer thread inside a `BEGIN IMMEDIATE` transaction shared with the
    /// other writes queued at the same time (its own savepoint: if it fails, only its changes
    /// are rolled back). Answers once the transaction committed; an error of the commit is
    /// every operation's error.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(WriteOp { f: op, tx }))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues `op` like [`Db::write`] without waiting for it; `after` runs once it committed.
    /// A failure is logged.
    pub(crate) fn write_detached<F>(&self, op: F, after: impl FnOnce() + Send + 'static)
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        let _ = self.jobs.send(Box::new(Detached {
            f: op,
            after: Box::new(after),
        }));
    }

    /// Runs `f` on a read connection (outside any transaction: it sees the last commit). The
    /// reads are short indexed lookups, run on the calling thread.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        let conn = {
            let mut pool = self
                .readers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => open_connection(&self.config, true)?,
        };
        let out = f(&conn);
        let mut pool = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < self.config.readers {
            pool.push(conn);
        }
        out
    }
}

/// Opens one connection with the pragmas every connection needs, and reads them back: a
/// pragma SQLite did not apply fails the open instead of being ignored.
pub(crate) fn open_connection(
    config: &SqliteConfig,
    reader: bool,
) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&config.path, flags).map_err(|e| StoreError::Open {
        path: config.path.clone(),
        source: std::sync::Arc::new(e),
    })?;
    apply_pragmas(&conn, config, reader)?;
    Ok(conn)
}

fn apply_pragmas(conn: &Connection, config: &SqliteConfig, reader: bool) -> Result<(), StoreError> {
    conn.busy_timeout(config.busy_timeout)?;
    let busy: i64 = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?;
    let want_busy = i64::try_from(config.busy_timeout.as_millis()).unwrap_or(i64::MAX);
    check("busy_timeout", want_busy.to_string(), busy.to_string())?;

    // WAL persists in the file; switching takes a lock, so only switch when needed.
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        check("journal_mode", "wal".to_owned(), mode.to_ascii_lowercase())?;
    }

    conn.execute_batch(&format!(
        "PRAGMA synchronous = {}",
        config.synchronous.name()
    ))?;
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
    check(
        "synchronous",
        config.synchronous.pragma_value().to_string(),
        sync.to_string(),
    )?;

    // The savepoint of each operation in a group commit journals into a temporary file: in
    // memory it costs no system calls (a failed operation's rollback needs nothing more).
    conn.execute_batch("PRAGMA temp_store = MEMORY")?;
    let temp: i64 = conn.query_row("PRAGMA temp_store", [], |r| r.get(0))?;
    check("temp_store", "2".to_owned(), temp.to_string())?;

    if reader {
        conn.execute_batch("PRAGMA query_only = ON")?;
        let q: i64 = conn.query_row("PRAGMA query_only", [], |r| r.get(0))?;
        check("query_only", "1".to_owned(), q.to_string())?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn check(pragma: &'static str, wanted: String, got: String) -> Result<(), StoreError> {
    if wanted == got {
        Ok(())
    } else {
        Err(StoreError::Pragma {
            pragma,
            wanted,
            got,
        })
    }
}

fn writer_loop(
    conn: Connection,
    rx: mpsc::Receiver<Box<dyn Op>>,
    wake: Arc<Wake>,
    watch: Duration,
) {
    let mut version = data_version(&conn);
    let mut checked = Instant::now();
    loop {
        let first = match rx.recv_timeout(watch) {
            Ok(op) => Some(op),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Some(first) = first {
            let mut batch = Vec::with_capacity(16);
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            run_batch(&conn, batch);
        }
        if checked.elapsed() >= watch {
            checked = Instant::now();
            let now = data_version(&conn);
            if now != version {
                version = now;
                wake.external_change();
            }
        }
    }
    tracing::debug!("taskq-sqlite writer thread stops: the backend was dropped");
}

fn data_version(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
        .unwrap_or(0)
}

fn exec(conn: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn run_batch(conn: &Connection, batch: Vec<Box<dyn Op>>) {
    let mut began = Err(StoreError::Closed);
    for _ in 0..BEGIN_TRIES {
        began = exec(conn, "BEGIN IMMEDIATE").map_err(StoreError::from);
        if began.is_ok() {
            break;
        }
    }
    if let Err(e) = began {
        let shared = e;
        tracing::warn!(error = %shared, "taskq-sqlite: could not begin a write transaction");
        for op in batch {
            op.fail(shared.clone());
        }
        return;
    }
    let single = batch.len() == 1;
    let mut delivers = Vec::with_capacity(batch.len());
    let mut any_failed = false;
    for op in batch {
        if single {
            let (ok, d) = op.run(conn);
            any_failed = !ok;
            delivers.push(d);
            continue;
        }
        if let Err(e) = exec(conn, "SAVEPOINT op") {
            op.fail(StoreError::from(e));
            continue;
        }
        let (ok, d) = op.run(conn);
        let closed = if ok {
            exec(conn, "RELEASE op")
        } else {
            exec(conn, "ROLLBACK TO op").and_then(|()| exec(conn, "RELEASE op"))
        };
        if let Err(e) = closed {
            // The transaction is in an unknown state: fail it all.
            let shared = StoreError::from(e);
            let _ = exec(conn, "ROLLBACK");
            d.deliver(Err(shared.clone()));
            for d in delivers {
                d.deliver(Err(shared.clone()));
            }
            return;
        }
        delivers.push(d);
    }
    let commit = if single && any_failed {
        // Its only operation failed: nothing to keep.
        exec(conn, "ROLLBACK").map_err(StoreError::from)
    } else {
        exec(conn, "COMMIT").map_err(StoreError::from)
    };
    let commit = match commit {
        Ok(()) => Ok(()),
        Err(e) => {
            let shared = e;
            tracing::warn!(error = %shared, "taskq-sqlite: a write transaction failed to commit");
            if !conn.is_autocommit() {
                let _ = exec(conn, "ROLLBACK");
            }
            Err(shared)
        }
    };
    for d in delivers {
        d.deliver(commit.clone());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_handle_is_shared_across_threads() {
        fn is<T: Send + Sync>() {}
        is::<super::Db>();
    }
}
