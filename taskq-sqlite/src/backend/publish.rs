//! The ways a task comes in: a batch publish, a workflow step's publish-once (an id that went
//! through it is not published again within its window, so a step that runs twice never starts
//! its successors twice), and a unique publish (the key's holder, while it lives and its window
//! lasts, is answered instead of a new task).

use std::time::Duration;

use rusqlite::{params, OptionalExtension};
use taskq::unique::UniqueOutcome;
use taskq::{Envelope, Timestamp};

use super::rows;
use super::values::{dur_ms, id_bytes, id_of, ms, now_ms};
use super::SqliteBackend;
use crate::error::StoreError;
use crate::queries::queries;

queries!("publish.sql");

impl SqliteBackend {
    /// [`taskq::backend::Backend::publish`].
    pub(crate) async fn publish_now(&self, batch: Vec<Envelope>) -> Result<(), StoreError> {
        self.db
            .write(move |c| {
                let now = now_ms();
                for env in &batch {
                    rows::insert(c, env, now)?;
                }
                Ok(())
            })
            .await?;
        self.db.wake.fetchers();
        Ok(())
    }

    /// [`taskq::backend::Backend::publish_once`].
    pub(crate) async fn publish_once_now(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, StoreError> {
        let n = self
            .db
            .write(move |c| {
                let now = now_ms();
                c.prepare_cached(SQL.get("once_sweep"))?.execute([now])?;
                let mut n = 0;
                for env in &batch {
                    let seen = c
                        .prepare_cached(SQL.get("once_seen"))?
                        .query_row(params![id_bytes(env.id), now], |_| Ok(()))
                        .optional()?
                        .is_some();
                    if seen {
                        continue;
                    }
                    c.prepare_cached(SQL.get("once_put"))?
                        .execute(params![id_bytes(env.id), now.saturating_add(dur_ms(ttl))])?;
                    rows::insert(c, env, now)?;
                    n += 1;
                }
                Ok(n)
            })
            .await?;
        if n > 0 {
            self.db.wake.fetchers();
        }
        Ok(n)
    }

    /// [`taskq::backend::Backend::publish_unique`]: the key is taken with the publish and
    /// released with the task's end (see rows.rs), its window a safety net; the window counts
    /// from the task's due time when that is later than now.
    pub(crate) async fn publish_unique_now(
        &self,
        env: Envelope,
        key: &str,
        ttl: Duration,
    ) -> Result<UniqueOutcome, StoreError> {
        let key = key.to_owned();
        let out = self
            .db
            .write(move |c| {
                let now = now_ms();
                let held: Option<(Vec<u8>, i64)> = c
                    .prepare_cached(SQL.get("unique_holder"))?
                    .query_row(params![env.queue, key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some((holder, until)) = held {
                    let holder = id_of(&holder)?;
                    if until > now && rows::exists(c, holder)? {
                        return Ok(UniqueOutcome::Existing(holder));
                    }
                }
                let start = env
                    .eta
                    .filter(|eta| *eta > Timestamp::now())
                    .map_or(now, ms);
                c.prepare_cached(SQL.get("unique_put"))?.execute(params![
                    env.queue,
                    key,
                    id_bytes(env.id),
                    start.saturating_add(dur_ms(ttl))
                ])?;
                rows::insert(c, &env, now)?;
                Ok(UniqueOutcome::New)
            })
            .await?;
        if out == UniqueOutcome::New {
            self.db.wake.fetchers();
        }
        Ok(out)
    }
}
