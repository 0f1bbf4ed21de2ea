//! Counts of a queue's messages.

use taskq::backend::QueueStats;
use taskq::BackendError;

use super::Inner;

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
        let counts: Vec<usize> = self.query(&pipe).await?;
        let ready = counts.iter().take(10).sum();
        let rest = &counts[10.min(counts.len())..];
        Ok(QueueStats {
            ready,
            delayed: rest.first().copied().unwrap_or(0),
            running: rest.get(1).copied().unwrap_or(0),
            dead: rest.get(2).copied().unwrap_or(0),
        })
    }
}
