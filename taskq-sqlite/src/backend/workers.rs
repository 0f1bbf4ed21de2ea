//! Worker heartbeats: each worker rewrites its row every few seconds; it is live while the
//! row's deadline is ahead, and gone at once when it says goodbye.

use std::time::Duration;

use rusqlite::params;
use taskq::backend::WorkerInfo;

use super::values::{dur_ms, now_ms};
use super::SqliteBackend;
use crate::error::StoreError;
use crate::queries::queries;

queries!("workers.sql");

impl SqliteBackend {
    /// [`taskq::backend::Backend::heartbeat`].
    pub(crate) async fn heartbeat_now(
        &self,
        worker: &WorkerInfo,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(worker).map_err(|e| StoreError::corrupt("workers.info", e))?;
        let id = worker.id.clone();
        self.db
            .write(move |c| {
                c.prepare_cached(SQL.get("beat"))?.execute(params![
                    id,
                    json,
                    now_ms().saturating_add(dur_ms(ttl))
                ])?;
                Ok(())
            })
            .await
    }

    /// [`taskq::backend::Backend::remove_worker`].
    pub(crate) async fn remove_worker_now(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                c.prepare_cached(SQL.get("remove"))?.execute([id])?;
                Ok(())
            })
            .await
    }

    /// [`taskq::backend::Backend::workers`]: the live ones, by id.
    pub(crate) async fn workers_now(&self) -> Result<Vec<WorkerInfo>, StoreError> {
        self.db
            .read(|c| {
                let mut st = c.prepare_cached(SQL.get("live"))?;
                let rows = st.query_map([now_ms()], |r| r.get::<_, String>(0))?;
                let mut out = Vec::new();
                for json in rows {
                    out.push(
                        serde_json::from_str(&json?)
                            .map_err(|e| StoreError::corrupt("workers.info", e))?,
                    );
                }
                Ok(out)
            })
            .await
    }
}
