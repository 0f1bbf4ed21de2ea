//! Operating a queue: pause (fetches skip it; its tasks wait in it, not in a worker), resume,
//! and purge (every task not running ends as cancelled, "purged from its queue").

use taskq::{FailureKind, Outcome, TaskFailure, TaskId};

use super::rows::{self, Finished};
use super::values::{id_of, now_ms};
use super::{Ended, SqliteBackend};
use crate::error::StoreError;
use crate::queries::queries;

queries!("queues.sql");

impl SqliteBackend {
    /// [`taskq::backend::Backend::pause_queue`].
    pub(crate) async fn pause_now(&self, queue: &str) -> Result<(), StoreError> {
        let queue = queue.to_owned();
        self.db
            .write(move |c| {
                c.prepare_cached(SQL.get("pause"))?.execute([queue])?;
                Ok(())
            })
            .await
    }

    /// [`taskq::backend::Backend::resume_queue`].
    pub(crate) async fn resume_now(&self, queue: &str) -> Result<(), StoreError> {
        let queue = queue.to_owned();
        self.db
            .write(move |c| {
                c.prepare_cached(SQL.get("resume"))?.execute([queue])?;
                Ok(())
            })
            .await?;
        self.db.wake.fetchers();
        Ok(())
    }

    /// [`taskq::backend::Backend::purge_queue`].
    pub(crate) async fn purge_now(&self, queue: &str) -> Result<usize, StoreError> {
        let queue = queue.to_owned();
        let ended = self
            .db
            .write(move |c| {
                let ids: Vec<TaskId> = {
                    let mut st = c.prepare_cached(SQL.get("waiting"))?;
                    let rows = st.query_map([&queue], |r| r.get::<_, Vec<u8>>(0))?;
                    let mut ids = Vec::new();
                    for b in rows {
                        ids.push(id_of(&b?)?);
                    }
                    ids
                };
                let now = now_ms();
                let mut ended: Vec<Ended> = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some((env, progress, _)) = rows::take(c, id)? {
                        let mut about = Finished::of(&env);
                        about.progress = progress;
                        let outcome = Outcome::Failure(TaskFailure::new(
                            FailureKind::Cancelled,
                            "purged from its queue",
                        ));
                        rows::finish(c, id, &outcome, env.result_ttl(), &about, now)?;
                        ended.push((id, outcome));
                    }
                }
                Ok(ended)
            })
            .await?;
        self.ended(&ended);
        Ok(ended.len())
    }
}
