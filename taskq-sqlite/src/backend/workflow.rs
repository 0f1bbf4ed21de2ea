//! Workflows' shared state: group counters that expire after their last change, and joins
//! (chords, DAG fan-in), whose slots keep their first value; the write that fills the last
//! slot gets every value back. All in the writer's transactions, so concurrent members (in any
//! process) are ordered and exactly one sees the join complete.

use std::time::Duration;

use rusqlite::params;
use taskq::Payload;

use super::values::{dur_ms, now_ms};
use super::SqliteBackend;
use crate::error::StoreError;
use crate::queries::queries;

queries!("workflow.sql");

impl SqliteBackend {
    /// [`taskq::backend::Backend::incr_counter`].
    pub(crate) async fn incr_counter_now(
        &self,
        key: &str,
        by: i64,
        ttl: Duration,
    ) -> Result<i64, StoreError> {
        let key = key.to_owned();
        self.db
            .write(move |c| {
                let now = now_ms();
                Ok(c.prepare_cached(SQL.get("counter"))?.query_row(
                    params![key, by, now.saturating_add(dur_ms(ttl)), now],
                    |r| r.get(0),
                )?)
            })
            .await
    }

    /// [`taskq::backend::Backend::join`].
    pub(crate) async fn join_now(
        &self,
        key: &str,
        slot: u32,
        total: u32,
        value: Payload,
        ttl: Duration,
    ) -> Result<Option<Vec<Payload>>, StoreError> {
        let key = key.to_owned();
        self.db
            .write(move |c| {
                let now = now_ms();
                let gone: Vec<String> = {
                    let mut st = c.prepare_cached(SQL.get("join_sweep"))?;
                    let rows = st.query_map([now], |r| r.get(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                for k in gone {
                    c.prepare_cached(SQL.get("join_slots_drop"))?.execute([k])?;
                }
                let total: i64 = c.prepare_cached(SQL.get("join_head"))?.query_row(
                    params![key, i64::from(total), now.saturating_add(dur_ms(ttl))],
                    |r| r.get(0),
                )?;
                if i64::from(slot) < total {
                    c.prepare_cached(SQL.get("join_fill"))?.execute(params![
                        key,
                        i64::from(slot),
                        value.as_str()
                    ])?;
                }
                let values: Vec<String> = {
                    let mut st = c.prepare_cached(SQL.get("join_values"))?;
                    let rows = st.query_map(params![key, total], |r| r.get(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                if i64::try_from(values.len()).unwrap_or(0) < total {
                    return Ok(None);
                }
                let mut out = Vec::with_capacity(values.len());
                for v in values {
                    out.push(
                        Payload::from_json(v)
                            .map_err(|e| StoreError::corrupt("join_slots.value", e))?,
                    );
                }
                Ok(Some(out))
            })
            .await
    }
}
