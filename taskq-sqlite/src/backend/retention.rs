//! Retention: expired results, counters, publish-once marks, unique keys past their window
//! and workers whose heartbeat ran out are deleted by the fetch, at most once per
//! [`SWEEP_EVERY_MS`] per process and [`SWEEP_BATCH`] rows per table at a time, so the file
//! does not grow with finished work and no single fetch pays for a backlog. (Readers already
//! ignore what has expired; the sweep only reclaims the space.) Events are trimmed per queue
//! by their appends (see events.rs); joins by the next join.

use std::sync::atomic::{AtomicI64, Ordering};

use rusqlite::{params, Connection};

use crate::error::StoreError;
use crate::queries::queries;

queries!("retention.sql");

/// How often a process sweeps, at most.
pub(crate) const SWEEP_EVERY_MS: i64 = 1_000;

/// The most rows of one table one sweep deletes.
pub(crate) const SWEEP_BATCH: i64 = 1_000;

static LAST: AtomicI64 = AtomicI64::new(0);

/// Sweeps when the last sweep of this process is [`SWEEP_EVERY_MS`] old. Returns how many rows
/// it deleted, or `None` when it was not time.
pub(crate) fn maybe_sweep(conn: &Connection, now: i64) -> Result<Option<usize>, StoreError> {
    let last = LAST.load(Ordering::Relaxed);
    if now - last < SWEEP_EVERY_MS
        || LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return Ok(None);
    }
    let mut n = 0;
    for table in ["results", "counters", "once", "uniques"] {
        n += conn
            .prepare_cached(SQL.get(table))?
            .execute(params![now, SWEEP_BATCH])?;
    }
    n += conn.prepare_cached(SQL.get("workers"))?.execute([now])?;
    Ok(Some(n))
}
