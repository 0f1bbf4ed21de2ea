//! The moves of a task row that every transition shares: in (publish and its kin), back to
//! ready or delayed (which frees its concurrency permit for the next waiter), and out
//! ([`finish`], the one place every end of a task goes through: success, dead letter,
//! revocation, purge, expiry, a workflow's resolve), so a unique key or a permit is never held
//! by a task that ended, nor freed while it lives.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use taskq::{Envelope, Outcome, Payload, TaskId, Timestamp};

use super::values::{dur_ms, id_bytes, ms, outcome_json};
use crate::error::StoreError;
use crate::queries::queries;

queries!("rows.sql");

/// Task states in the `tasks.state` column.
pub(crate) const READY: i64 = 0;
pub(crate) const DELAYED: i64 = 1;
pub(crate) const LEASED: i64 = 2;
pub(crate) const WAITING: i64 = 3;

/// An envelope as its column.
pub(crate) fn env_json(env: &Envelope) -> Result<String, StoreError> {
    serde_json::to_string(env).map_err(|e| StoreError::corrupt("tasks.env", e))
}

/// An envelope from its column, with the attempt column's count.
pub(crate) fn env_of(json: &str, attempt: i64) -> Result<Envelope, StoreError> {
    let mut env: Envelope =
        serde_json::from_str(json).map_err(|e| StoreError::corrupt("tasks.env", e))?;
    env.attempt = u32::try_from(attempt).unwrap_or(0);
    Ok(env)
}

/// A payload from a column.
pub(crate) fn payload_of(json: Option<String>) -> Option<Payload> {
    json.and_then(|j| Payload::from_json(j).ok())
}

/// A live task's envelope (with its current attempt), progress and lease start.
pub(crate) type LiveRow = (Envelope, Option<Payload>, Option<i64>);

/// Inserts a new task: delayed when its eta is ahead, ready otherwise. A task whose id is
/// already live is left as it is. Returns whether it was inserted.
pub(crate) fn insert(conn: &Connection, env: &Envelope, now: i64) -> Result<bool, StoreError> {
    conn.prepare_cached(SQL.get("queue"))?
        .execute([&env.queue])?;
    let due = env.eta.map(ms).filter(|eta| *eta > now);
    let (state, at) = match due {
        Some(due) => (DELAYED, due),
        None => (READY, now),
    };
    let n = conn.prepare_cached(SQL.get("insert"))?.execute(params![
        id_bytes(env.id),
        env.queue,
        i64::from(env.priority),
        state,
        at,
        i64::from(env.attempt),
        env.expires.map(ms),
        env_json(env)?,
    ])?;
    Ok(n == 1)
}

/// Whether `id` is a live task (queued, delayed, waiting or running).
pub(crate) fn exists(conn: &Connection, id: TaskId) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(SQL.get("exists"))?
        .query_row([id_bytes(id)], |_| Ok(()))
        .optional()?
        .is_some())
}

/// `id` stops holding its concurrency permit, if it held one: the oldest task waiting for a
/// permit of the same key becomes ready.
pub(crate) fn free_permit(conn: &Connection, id: TaskId, now: i64) -> Result<(), StoreError> {
    let held: Option<(String, String)> = conn
        .prepare_cached(SQL.get("drop_permit"))?
        .query_row([id_bytes(id)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((queue, key)) = held {
        conn.prepare_cached(SQL.get("next_waiter"))?
            .execute(params![queue, key, now])?;
    }
    Ok(())
}

/// Back to ready (a release, an expired lease, a waiter's turn).
pub(crate) fn to_ready(conn: &Connection, id: TaskId, now: i64) -> Result<(), StoreError> {
    free_permit(conn, id, now)?;
    conn.prepare_cached(SQL.get("to_ready"))?
        .execute(params![id_bytes(id), now])?;
    Ok(())
}

/// To the delayed set until `due` (a retry, a rate limit, an open breaker).
pub(crate) fn to_delayed(
    conn: &Connection,
    id: TaskId,
    due: i64,
    now: i64,
) -> Result<(), StoreError> {
    free_permit(conn, id, now)?;
    conn.prepare_cached(SQL.get("to_delayed"))?
        .execute(params![id_bytes(id), due])?;
    Ok(())
}

/// The row of `id` while `attempt` is its current lease: its envelope, progress and when the
/// lease began.
pub(crate) fn current(
    conn: &Connection,
    id: TaskId,
    attempt: u32,
) -> Result<Option<LiveRow>, StoreError> {
    let row: Option<(String, Option<String>, Option<i64>)> = conn
        .prepare_cached(SQL.get("current"))?
        .query_row(params![id_bytes(id), i64::from(attempt)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match row {
        Some((env, progress, leased_at)) => Ok(Some((
            env_of(&env, i64::from(attempt))?,
            payload_of(progress),
            leased_at,
        ))),
        None => Ok(None),
    }
}

/// Removes the row of `id` if `attempt` is its current lease (one statement: the check and the
/// removal of a completion or dead letter), returning what [`current`] would.
pub(crate) fn take_current(
    conn: &Connection,
    id: TaskId,
    attempt: u32,
) -> Result<Option<LiveRow>, StoreError> {
    let row: Option<(String, Option<String>, Option<i64>)> = conn
        .prepare_cached(SQL.get("take_current"))?
        .query_row(params![id_bytes(id), i64::from(attempt)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match row {
        Some((env, progress, leased_at)) => Ok(Some((
            env_of(&env, i64::from(attempt))?,
            payload_of(progress),
            leased_at,
        ))),
        None => Ok(None),
    }
}

/// What is kept of a finished task beside its outcome.
#[derive(Clone, Debug, Default)]
pub(crate) struct Finished {
    pub(crate) task: Option<String>,
    pub(crate) queue: Option<String>,
    pub(crate) attempt: u32,
    pub(crate) created_at: Option<Timestamp>,
    pub(crate) started_at: Option<Timestamp>,
    pub(crate) args: Option<Payload>,
    pub(crate) progress: Option<Payload>,
}

impl Finished {
    /// What an envelope tells.
    pub(crate) fn of(env: &Envelope) -> Self {
        Self {
            task: Some(env.task.clone()),
            queue: Some(env.queue.clone()),
            attempt: env.attempt,
            created_at: Some(env.enqueued_at),
            started_at: None,
            args: (env.args.as_str().len() <= taskq::backend::KEPT_ARGS_MAX)
                .then(|| env.args.clone()),
            progress: None,
        }
    }
}

/// Removes a live task's row, if there is one: its envelope (with the current attempt),
/// progress and lease start.
pub(crate) fn take(conn: &Connection, id: TaskId) -> Result<Option<LiveRow>, StoreError> {
    let row: Option<(String, i64, Option<String>, Option<i64>)> = conn
        .prepare_cached(SQL.get("take"))?
        .query_row([id_bytes(id)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    match row {
        Some((env, attempt, progress, leased_at)) => Ok(Some((
            env_of(&env, attempt)?,
            payload_of(progress),
            leased_at,
        ))),
        None => Ok(None),
    }
}

/// The end of a task (whose row the caller removed with [`take`], if it had one): its unique
/// key and permit are freed,
/// and its outcome is stored for `ttl` (none when `None`). The caller hands the outcome to
/// this process's waiters once the transaction has committed.
pub(crate) fn finish(
    conn: &Connection,
    id: TaskId,
    outcome: &Outcome,
    ttl: Option<Duration>,
    about: &Finished,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(SQL.get("drop_unique"))?
        .execute([id_bytes(id)])?;
    free_permit(conn, id, now)?;
    if let Some(ttl) = ttl {
        conn.prepare_cached(SQL.get("store_result"))?
            .execute(params![
                id_bytes(id),
                outcome_json(outcome)?,
                now.saturating_add(dur_ms(ttl)),
                about.progress.as_ref().map(|p| p.as_str().to_owned()),
                about.task,
                about.queue,
                i64::from(about.attempt),
                about.created_at.map(ms),
                about.started_at.map(ms),
                now,
                about.args.as_ref().map(|p| p.as_str().to_owned()),
            ])?;
    }
    Ok(())
}
