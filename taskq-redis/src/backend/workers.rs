//! The worker registry: each heartbeat stores the worker's description in one hash and its
//! deadline (now + TTL) in a sorted set beside it. A worker is live while its deadline is
//! ahead: one killed without a goodbye drops out when its TTL (three heartbeat intervals) runs
//! out, and the next heartbeat of any worker deletes it; a warm shutdown removes it at once.

use std::collections::HashMap;
use std::time::Duration;

use taskq::backend::WorkerInfo;
use taskq::{BackendError, TaskId, Timestamp};

use super::values::encode_error;
use super::Inner;
use crate::keys;
use crate::scripts;

impl Inner {
    pub(super) async fn heartbeat(
        &self,
        worker: &WorkerInfo,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let json = serde_json::to_string(worker).map_err(|e| encode_error("a heartbeat", e))?;
        let now = Timestamp::now();
        let mut inv = scripts::HEARTBEAT.prepare_invoke();
        inv.key(keys::workers_key(&self.prefix))
            .key(keys::worker_deadlines_key(&self.prefix))
            .arg(&worker.id)
            .arg(json)
            .arg(now.after(ttl.max(Duration::from_millis(1))).as_millis())
            .arg(now.as_millis());
        self.eval::<i64>(&inv).await?;
        Ok(())
    }

    pub(super) async fn remove_worker(&self, id: &str) -> Result<(), BackendError> {
        // A worker going away writes what it recorded last before it leaves.
        self.flush_events().await;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("HDEL")
            .arg(keys::workers_key(&self.prefix))
            .arg(id)
            .ignore()
            .cmd("ZREM")
            .arg(keys::worker_deadlines_key(&self.prefix))
            .arg(id)
            .ignore();
        self.query::<()>(&pipe).await
    }

    /// The live workers, by id. A description that does not decode is skipped (with a
    /// warning): one bad entry must not hide the fleet.
    pub(super) async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        let now = Timestamp::now().as_millis();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZRANGE")
            .arg(keys::worker_deadlines_key(&self.prefix))
            .arg(format!("({now}"))
            .arg("+inf")
            .arg("BYSCORE")
            .cmd("HGETALL")
            .arg(keys::workers_key(&self.prefix));
        let (live, mut infos): (Vec<String>, HashMap<String, String>) = self.query(&pipe).await?;
        let mut out: Vec<WorkerInfo> = live
            .iter()
            .filter_map(|id| {
                let json = infos.remove(id)?;
                match serde_json::from_str(&json) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        tracing::warn!(worker = %id, error = %e, "a worker's heartbeat does not decode; skipped");
                        None
                    }
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Which live worker runs each task, as their heartbeats say.
    pub(super) async fn holders(
        &self,
    ) -> Result<HashMap<TaskId, (String, Timestamp)>, BackendError> {
        let mut by_task = HashMap::new();
        for w in self.workers().await? {
            for r in &w.running {
                by_task.insert(r.id, (w.id.clone(), r.started_at));
            }
        }
        Ok(by_task)
    }
}
