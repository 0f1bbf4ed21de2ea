//! Counts of a queue's messages, whether it is paused, and how long its head has waited.

use redis::Value;
use taskq::backend::QueueStats;
use taskq::{BackendError, Envelope, Timestamp};

use super::values::{int, text};
use super::Inner;
use crate::codec;

impl Inner {
    pub(super) async fn queue_stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        let k = self.keys(queue);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for r in k.ready_all() {
            pipe.cmd("LLEN").arg(r);
        }
        pipe.cmd("ZCARD").arg(k.delayed());
        pipe.cmd("ZCARD").arg(k.lease());
        pipe.cmd("LLEN").arg(k.dead());
        pipe.cmd("EXISTS").arg(k.paused());
        // The head of each ready list: the oldest of each priority (a released task goes back
        // to the head, and it is older still).
        for r in k.ready_all() {
            pipe.cmd("LINDEX").arg(r).arg(0);
        }
        let replies: Vec<Value> = self.query(&pipe).await?;
        let count = |i: usize| {
            replies
                .get(i)
                .and_then(int)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0)
        };
        let heads: Vec<String> = replies.iter().skip(14).cloned().filter_map(text).collect();
        Ok(QueueStats {
            ready: (0..10).map(count).sum(),
            delayed: count(10),
            running: count(11),
            dead: count(12),
            paused: count(13) > 0,
            oldest_ready: self.oldest_ready(queue, &heads).await?,
        })
    }

    /// When the oldest of the ready lists' heads became ready: enqueued, or due. (A retry's due
    /// time is not in its message; it counts from its enqueue, which is earlier.)
    async fn oldest_ready(
        &self,
        queue: &str,
        heads: &[String],
    ) -> Result<Option<Timestamp>, BackendError> {
        if heads.is_empty() {
            return Ok(None);
        }
        let blobs: Vec<Option<String>> = self
            .command(redis::cmd("HMGET").arg(self.keys(queue).env()).arg(heads))
            .await?;
        Ok(blobs
            .iter()
            .flatten()
            .filter_map(|b| codec::parse_message(b))
            .filter_map(|h| serde_json::from_str::<Envelope>(h.json).ok())
            .map(|e| e.eta.map_or(e.enqueued_at, |eta| eta.max(e.enqueued_at)))
            .min())
    }
}
