//! `join`: the values of a chord's or DAG fan-in's slots, the first write of each slot kept;
//! whoever fills the last slot gets them all (and starts the next step).
//!
//! Two statements in one transaction: `join_head.sql` locks the join's head row, so writers
//! of one join go one at a time, and `join_fill.sql` (a fresh READ COMMITTED snapshot, taken
//! after the lock) inserts this slot and reads every slot written so far.

use std::time::Duration;

use sqlx::Row;
use taskq::{BackendError, Payload};

use super::PgBackend;
use crate::error::{command, corrupt};

impl PgBackend {
    /// [`taskq::Backend::join`] on the `join_head`/`join_slot` tables.
    pub(crate) async fn join_slot(
        &self,
        key: &str,
        slot: u32,
        total: u32,
        value: Payload,
        ttl: Duration,
    ) -> Result<Option<Vec<Payload>>, BackendError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let total = i32::try_from(total).unwrap_or(i32::MAX);
        let slot = i32::try_from(slot).unwrap_or(i32::MAX);
        let mut tx = self.pool().begin().await.map_err(command)?;
        let total: i32 = sqlx::query(&self.sql(include_str!("join_head.sql")))
            .bind(key)
            .bind(total)
            .bind(ttl_ms)
            .fetch_one(&mut *tx)
            .await
            .map_err(command)?
            .try_get(0)
            .map_err(command)?;
        let rows = sqlx::query(&self.sql(include_str!("join_fill.sql")))
            .bind(key)
            .bind(slot)
            .bind(value.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(command)?;
        tx.commit().await.map_err(command)?;
        // A slot beyond `total` is kept but never counted (as in the in-memory backend).
        let mut values = Vec::with_capacity(rows.len());
        for row in rows {
            let at: i32 = row.try_get("slot").map_err(command)?;
            if at >= total {
                continue;
            }
            let text: String = row.try_get("value").map_err(command)?;
            let value = Payload::from_json(text)
                .map_err(|e| corrupt(format!("join {key}"), e.to_string()))?;
            values.push(value);
        }
        if i32::try_from(values.len()).unwrap_or(i32::MAX) < total {
            return Ok(None);
        }
        Ok(Some(values))
    }
}
