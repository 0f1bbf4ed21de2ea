//! Dead letters: a task whose attempts ran out, whose name no worker knows, whose arguments do
//! not decode, or whose row is not a message at all. Listed oldest first per queue; requeued
//! (as a fresh task with the same id) or purged by id or by reason.

use std::time::Duration;

use rusqlite::{params, Connection};
use taskq::backend::DeadSelection;
use taskq::{DeadLetter, DeadLetterReason, Lease, Outcome, TaskFailure, TaskId, Timestamp};

use super::rows::{self, Finished};
use super::values::{id_bytes, id_of, now_ms, ts};
use super::{Ended, SqliteBackend};
use crate::error::StoreError;
use crate::queries::queries;

queries!("dead.sql");

fn reason_text(r: DeadLetterReason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| r.to_string())
}

/// Stores a dead letter.
pub(crate) fn bury(conn: &Connection, letter: &DeadLetter) -> Result<(), StoreError> {
    let json = serde_json::to_string(letter).map_err(|e| StoreError::corrupt("dead.letter", e))?;
    conn.prepare_cached(SQL.get("bury"))?.execute(params![
        id_bytes(letter.id),
        letter.queue,
        reason_text(letter.reason),
        json
    ])?;
    Ok(())
}

/// A task row whose envelope does not decode (written by something else, or damaged): out of
/// the queue and into the dead letters as a malformed message, its text kept, so the fetch
/// goes on and nothing is lost.
pub(crate) fn bury_garbage(
    conn: &Connection,
    seq: i64,
    id: TaskId,
    queue: &str,
    why: &str,
    raw: &str,
    now: i64,
) -> Result<(), StoreError> {
    tracing::warn!(%id, queue, error = why, "taskq-sqlite: a task row does not decode; dead-lettered");
    conn.prepare_cached(SQL.get("drop_row"))?.execute([seq])?;
    rows::free_permit(conn, id, now)?;
    bury(
        conn,
        &DeadLetter {
            id,
            queue: queue.to_owned(),
            reason: DeadLetterReason::MalformedMessage,
            message: format!("the stored message does not decode: {why}"),
            envelope: None,
            raw: Some(raw.to_owned()),
            at: ts(now),
        },
    )
}

fn selected(
    conn: &Connection,
    queue: &str,
    select: &DeadSelection,
    limit: usize,
    needs_envelope: bool,
) -> Result<Vec<(i64, DeadLetter)>, StoreError> {
    let mut st = conn.prepare_cached(SQL.get("all_of_queue"))?;
    let rows = st.query_map([queue], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        if out.len() >= limit {
            break;
        }
        let (seq, id, json) = row?;
        let id = id_of(&id)?;
        let letter: DeadLetter =
            serde_json::from_str(&json).map_err(|e| StoreError::corrupt("dead.letter", e))?;
        if select.matches(id, letter.reason) && (!needs_envelope || letter.envelope.is_some()) {
            out.push((seq, letter));
        }
    }
    Ok(out)
}

impl SqliteBackend {
    /// [`taskq::backend::Backend::dead_letter`].
    pub(crate) async fn dead_letter_now(
        &self,
        lease: &Lease,
        reason: DeadLetterReason,
        failure: &TaskFailure,
        result_ttl: Option<Duration>,
    ) -> Result<bool, StoreError> {
        let (id, attempt, failure) = (lease.id, lease.attempt, failure.clone());
        let ended = self
            .db
            .write(move |c| {
                let Some((env, progress, _)) = rows::take_current(c, id, attempt)? else {
                    return Ok(None);
                };
                let now = now_ms();
                let mut about = Finished::of(&env);
                about.progress = progress;
                let letter = DeadLetter {
                    id,
                    queue: env.queue.clone(),
                    reason,
                    message: failure.message.clone(),
                    envelope: Some(env),
                    raw: None,
                    at: Timestamp::now(),
                };
                bury(c, &letter)?;
                let outcome = Outcome::Failure(failure);
                rows::finish(c, id, &outcome, result_ttl, &about, now)?;
                Ok(Some((id, outcome)))
            })
            .await?;
        let ok = ended.is_some();
        self.ended(&ended.into_iter().collect::<Vec<Ended>>());
        Ok(ok)
    }

    /// [`taskq::backend::Backend::dead_letters`].
    pub(crate) async fn dead_letters_now(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.db
            .read(|c| {
                let mut st = c.prepare_cached(SQL.get("list"))?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = st.query_map(params![queue, limit], |r| r.get::<_, String>(0))?;
                let mut out = Vec::new();
                for json in rows {
                    out.push(
                        serde_json::from_str(&json?)
                            .map_err(|e| StoreError::corrupt("dead.letter", e))?,
                    );
                }
                Ok(out)
            })
            .await
    }

    /// [`taskq::backend::Backend::requeue_dead`]: each becomes a fresh task (attempt 0, no eta,
    /// no expiry) with its id; its old result is forgotten.
    pub(crate) async fn requeue_dead_now(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let (queue, select) = (queue.to_owned(), select.clone());
        let n = self
            .db
            .write(move |c| {
                let now = now_ms();
                let picked = selected(c, &queue, &select, limit, true)?;
                for (seq, letter) in &picked {
                    c.prepare_cached(SQL.get("unbury"))?.execute([seq])?;
                    if let Some(env) = &letter.envelope {
                        let mut env = env.clone();
                        env.attempt = 0;
                        env.eta = None;
                        env.expires = None;
                        c.prepare_cached(SQL.get("forget_result"))?
                            .execute([id_bytes(env.id)])?;
                        rows::insert(c, &env, now)?;
                    }
                }
                Ok(picked.len())
            })
            .await?;
        self.db.wake.fetchers();
        Ok(n)
    }

    /// [`taskq::backend::Backend::purge_dead`].
    pub(crate) async fn purge_dead_now(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let (queue, select) = (queue.to_owned(), select.clone());
        self.db
            .write(move |c| {
                let picked = selected(c, &queue, &select, limit, false)?;
                for (seq, _) in &picked {
                    c.prepare_cached(SQL.get("unbury"))?.execute([seq])?;
                }
                Ok(picked.len())
            })
            .await
    }
}
