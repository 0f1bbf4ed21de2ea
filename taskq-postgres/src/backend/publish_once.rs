//! `publish_once`: workflow steps published at most once per id within a window, so a step
//! that runs twice (a retry after a lost lease) never starts its successors twice.
//!
//! One transaction: `publish_once.sql` claims the ids in the `once` table, and only the
//! envelopes whose id it returned go through [`super::publish::insert`] in the same
//! transaction, so a claim and its task commit or vanish together.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::Row;
use taskq::{BackendError, Envelope};

use super::PgBackend;
use crate::error::command;

impl PgBackend {
    /// [`taskq::Backend::publish_once`]: returns how many envelopes were published.
    pub(crate) async fn publish_once_batch(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, BackendError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let ids: Vec<uuid::Uuid> = batch.iter().map(|e| *e.id.as_uuid()).collect();
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let mut tx = self.pool().begin().await.map_err(command)?;
        let claimed: HashSet<uuid::Uuid> = sqlx::query(&self.sql(include_str!("publish_once.sql")))
            .bind(&ids)
            .bind(ttl_ms)
            .fetch_all(&mut *tx)
            .await
            .map_err(command)?
            .iter()
            .map(|r| r.try_get::<uuid::Uuid, _>(0))
            .collect::<Result<_, _>>()
            .map_err(command)?;
        let mut seen = HashSet::new();
        let fresh: Vec<Envelope> = batch
            .into_iter()
            .filter(|e| claimed.contains(e.id.as_uuid()) && seen.insert(*e.id.as_uuid()))
            .collect();
        let n = fresh.len();
        if n > 0 {
            super::publish::insert(&mut *tx, self, &fresh).await?;
        }
        tx.commit().await.map_err(command)?;
        Ok(n)
    }
}
