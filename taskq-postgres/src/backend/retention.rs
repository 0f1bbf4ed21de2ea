//! Retention: finished results and events live in daily partitions that are dropped whole
//! once expired (no `DELETE`, no dead tuples), by `maintain()` in `0002_features.sql`.
//!
//! Every backend instance runs it now and then ([`MAINTAIN_EVERY`]); the function takes an
//! advisory lock, so of many processes one works and the others return at once.

use std::time::Duration;

use sqlx::Row;
use taskq::BackendError;

use super::PgBackend;
use crate::error::command;

/// How often each backend instance runs retention.
pub(crate) const MAINTAIN_EVERY: Duration = Duration::from_secs(600);
/// Days of partitions created ahead of time (results expiring later land in the DEFAULT
/// partition and are deleted row by row when they expire).
pub(crate) const DAYS_AHEAD: i32 = 7;
/// Days events are kept.
pub(crate) const EVENT_DAYS: i32 = 7;

impl PgBackend {
    /// Runs retention once; returns what it did, a line per partition created or dropped.
    pub(crate) async fn maintain(&self) -> Result<Vec<String>, BackendError> {
        sqlx::query(&self.sql(include_str!("retention.sql")))
            .bind(DAYS_AHEAD)
            .bind(EVENT_DAYS)
            .fetch_all(self.pool())
            .await
            .map_err(command)?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()
            .map_err(command)
    }
}
