//! A task's record (its outcome while kept, else its live state), waiting for an outcome
//! (woken in this process by the commit that stores it, by another process's commit through
//! the writer's `data_version` check), revocation, and a workflow's resolve.

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use taskq::backend::CancelOutcome;
use taskq::{FailureKind, Outcome, TaskFailure, TaskId, TaskRecord, TaskState};

use super::rows::{self, Finished};
use super::values::{id_bytes, now_ms, outcome_of};
use super::SqliteBackend;
use crate::error::StoreError;
use crate::queries::queries;

queries!("results.sql");

/// The kept outcome of `id` and its progress, if it has one that has not expired.
pub(crate) fn stored(
    conn: &Connection,
    id: TaskId,
) -> Result<Option<(Outcome, Option<String>)>, StoreError> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached(SQL.get("result"))?
        .query_row(params![id_bytes(id), now_ms()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    row.map(|(o, p)| Ok((outcome_of(&o)?, p))).transpose()
}

/// The state a live row's columns mean.
pub(crate) fn live_state(state: i64, attempt: i64) -> TaskState {
    match state {
        rows::LEASED => TaskState::Running,
        rows::DELAYED if attempt > 0 => TaskState::Retrying,
        rows::DELAYED => TaskState::Scheduled,
        _ => TaskState::Pending,
    }
}

fn record(conn: &Connection, id: TaskId) -> Result<Option<TaskRecord>, StoreError> {
    if let Some((outcome, progress)) = stored(conn, id)? {
        return Ok(Some(TaskRecord {
            id,
            state: outcome.state(),
            outcome: Some(outcome),
            progress: rows::payload_of(progress),
        }));
    }
    let live: Option<(i64, i64, Option<String>)> = conn
        .prepare_cached(SQL.get("live"))?
        .query_row([id_bytes(id)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(live.map(|(state, attempt, progress)| TaskRecord {
        id,
        state: live_state(state, attempt),
        outcome: None,
        progress: rows::payload_of(progress),
    }))
}

impl SqliteBackend {
    /// [`taskq::backend::Backend::record`].
    pub(crate) async fn record_now(&self, id: TaskId) -> Result<Option<TaskRecord>, StoreError> {
        self.db.read(|c| record(c, id)).await
    }

    /// [`taskq::backend::Backend::wait_result`].
    pub(crate) async fn wait_result_now(
        &self,
        id: TaskId,
        timeout: Option<Duration>,
    ) -> Result<Option<Outcome>, StoreError> {
        let give_up = timeout.map(|t| tokio::time::Instant::now() + t);
        // Registered before the first look, so a completion in between is not missed.
        let mut rx = self.db.wake.wait_for(id);
        let result = loop {
            let changed = self.db.wake.changed().notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some((outcome, _)) = self.db.read(|c| stored(c, id)).await? {
                break Ok(Some(outcome));
            }
            let sleep = async {
                match give_up {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                got = &mut rx => match got {
                    Ok(outcome) => break Ok(Some(outcome)),
                    Err(_) => break Err(StoreError::Closed),
                },
                _ = &mut changed => {}
                _ = sleep => break Ok(None),
            }
        };
        drop(rx);
        self.db.wake.forget(id);
        result
    }

    /// [`taskq::backend::Backend::cancel`]: a queued or delayed task ends as cancelled; a
    /// running one is marked, and its worker learns it at its next extension.
    pub(crate) async fn cancel_now(&self, id: TaskId) -> Result<CancelOutcome, StoreError> {
        let (out, ended) = self
            .db
            .write(move |c| {
                let state: Option<i64> = c
                    .prepare_cached(SQL.get("state_of"))?
                    .query_row([id_bytes(id)], |r| r.get(0))
                    .optional()?;
                match state {
                    None => Ok((CancelOutcome::NotFound, None)),
                    Some(rows::LEASED) => {
                        c.prepare_cached(SQL.get("signal"))?
                            .execute([id_bytes(id)])?;
                        Ok((CancelOutcome::Signalled, None))
                    }
                    Some(_) => {
                        let Some((env, progress, _)) = rows::take(c, id)? else {
                            return Ok((CancelOutcome::NotFound, None));
                        };
                        let mut about = Finished::of(&env);
                        about.progress = progress;
                        let outcome =
                            Outcome::Failure(TaskFailure::new(FailureKind::Cancelled, "revoked"));
                        rows::finish(c, id, &outcome, env.result_ttl(), &about, now_ms())?;
                        Ok((CancelOutcome::Removed, Some((id, outcome))))
                    }
                }
            })
            .await?;
        self.ended(&ended.into_iter().collect::<Vec<_>>());
        Ok(out)
    }

    /// [`taskq::backend::Backend::resolve`]: stores an outcome for a task that has none yet
    /// (a workflow's result); the first one wins.
    pub(crate) async fn resolve_now(
        &self,
        id: TaskId,
        outcome: Outcome,
        ttl: Option<Duration>,
    ) -> Result<bool, StoreError> {
        let ended = self
            .db
            .write(move |c| {
                if stored(c, id)?.is_some() {
                    return Ok(None);
                }
                rows::finish(c, id, &outcome, ttl, &Finished::default(), now_ms())?;
                Ok(Some((id, outcome)))
            })
            .await?;
        let ok = ended.is_some();
        self.ended(&ended.into_iter().collect::<Vec<_>>());
        Ok(ok)
    }
}
