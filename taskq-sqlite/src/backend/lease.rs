//! A worker's own transitions of the task it holds: completion (batched), retry later, hand
//! back, extend (which also tells it of a revocation), progress. Each names the lease's attempt
//! and changes nothing when that lease is no longer current, so a late worker whose lease was
//! taken cannot overwrite the newer delivery.

use std::time::Duration;

use rusqlite::params;
use taskq::backend::{Completion, LeaseStatus};
use taskq::{Lease, Payload};

use super::rows::{self, Finished};
use super::values::{dur_ms, id_bytes, now_ms};
use super::{Ended, SqliteBackend};
use crate::error::StoreError;
use crate::queries::queries;

queries!("lease.sql");

impl SqliteBackend {
    /// [`taskq::backend::Backend::complete`]: the whole batch in one transaction.
    pub(crate) async fn complete_now(&self, batch: &[Completion]) -> Result<Vec<bool>, StoreError> {
        let batch = batch.to_vec();
        let (accepted, ended) = self
            .db
            .write(move |c| {
                let now = now_ms();
                let mut accepted = Vec::with_capacity(batch.len());
                let mut ended: Vec<Ended> = Vec::new();
                for done in batch {
                    let Some((env, progress, _)) =
                        rows::take_current(c, done.lease.id, done.lease.attempt)?
                    else {
                        accepted.push(false);
                        continue;
                    };
                    let mut about = Finished::of(&env);
                    about.progress = progress;
                    if let Some(t) = &done.task {
                        about.task = Some(t.to_string());
                    }
                    if done.args.is_some() {
                        about.args = done.args.clone();
                    }
                    about.started_at = done.started_at;
                    rows::finish(
                        c,
                        done.lease.id,
                        &done.outcome,
                        done.result_ttl,
                        &about,
                        now,
                    )?;
                    ended.push((done.lease.id, done.outcome));
                    accepted.push(true);
                }
                Ok((accepted, ended))
            })
            .await?;
        self.ended(&ended);
        Ok(accepted)
    }

    /// [`taskq::backend::Backend::retry`].
    pub(crate) async fn retry_now(
        &self,
        lease: &Lease,
        delay: Duration,
    ) -> Result<bool, StoreError> {
        let (id, attempt) = (lease.id, lease.attempt);
        let ok = self
            .db
            .write(move |c| {
                if rows::current(c, id, attempt)?.is_none() {
                    return Ok(false);
                }
                let now = now_ms();
                rows::to_delayed(c, id, now.saturating_add(dur_ms(delay)), now)?;
                Ok(true)
            })
            .await?;
        self.db.wake.fetchers();
        Ok(ok)
    }

    /// [`taskq::backend::Backend::release`]: back to ready, the attempt not counted.
    pub(crate) async fn release_now(&self, leases: Vec<Lease>) -> Result<(), StoreError> {
        self.db
            .write(move |c| {
                let now = now_ms();
                for lease in leases {
                    if rows::current(c, lease.id, lease.attempt)?.is_some() {
                        c.prepare_cached(SQL.get("undo_attempt"))?
                            .execute([id_bytes(lease.id)])?;
                        rows::to_ready(c, lease.id, now)?;
                    }
                }
                Ok(())
            })
            .await?;
        self.db.wake.fetchers();
        Ok(())
    }

    /// [`taskq::backend::Backend::extend`].
    pub(crate) async fn extend_now(
        &self,
        leases: &[Lease],
        by: Duration,
    ) -> Result<Vec<LeaseStatus>, StoreError> {
        let leases: Vec<(taskq::TaskId, u32)> = leases.iter().map(|l| (l.id, l.attempt)).collect();
        self.db
            .write(move |c| {
                let deadline = now_ms().saturating_add(dur_ms(by));
                let mut out = Vec::with_capacity(leases.len());
                let mut st = c.prepare_cached(SQL.get("extend"))?;
                for (id, attempt) in leases {
                    let mut rows = st.query(params![id_bytes(id), i64::from(attempt), deadline])?;
                    out.push(match rows.next()? {
                        Some(r) if r.get::<_, i64>(0)? != 0 => LeaseStatus::Cancelled,
                        Some(_) => LeaseStatus::Held,
                        None => LeaseStatus::Lost,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// [`taskq::backend::Backend::set_progress`].
    pub(crate) async fn set_progress_now(
        &self,
        lease: &Lease,
        progress: Payload,
    ) -> Result<(), StoreError> {
        let (id, attempt) = (lease.id, lease.attempt);
        self.db
            .write(move |c| {
                c.prepare_cached(SQL.get("progress"))?.execute(params![
                    id_bytes(id),
                    i64::from(attempt),
                    progress.as_str()
                ])?;
                Ok(())
            })
            .await
    }
}
