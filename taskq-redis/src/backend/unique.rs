//! Unique tasks ([`taskq::unique`]): `publish_unique.lua` takes the key and publishes in one
//! step, or answers the live holder. The key is `uniq:<digest>` in the queue's hash tag (the
//! holder's id, with the key's TTL as a safety net), and the queue's hash `uniq` maps each
//! holder to its digest, so the scripts that end a task (`complete`, `dead_letter`, `bury`,
//! `cancel`, `purge`) release its key in the same run; they look at the hash only when it
//! exists, so a queue without unique tasks pays nothing more (`complete_fast` sends a batch of
//! a queue holding keys to `complete`).

use std::time::Duration;

use taskq::unique::UniqueOutcome;
use taskq::{BackendError, Envelope, TaskId, Timestamp};

use super::events::Carry;
use super::values::ms;
use super::Inner;
use crate::conn::corrupt;
use crate::scripts;

impl Inner {
    pub(super) async fn publish_unique(
        &self,
        env: Envelope,
        digest: &str,
        ttl: Duration,
    ) -> Result<UniqueOutcome, BackendError> {
        let queue = env.queue.clone();
        let mut items = self.prepare(vec![env]);
        let Some(item) = items.pop() else {
            return Err(corrupt(queue, "a message prepared to nothing"));
        };
        self.register_queues(std::iter::once(&*queue)).await?;
        let k = self.keys(&queue);
        // The window counts from the task's due time when that is later than now.
        let wait = item
            .due
            .map_or(0, |due| due.saturating_sub(Timestamp::now().as_millis()));
        let key_ttl = ms(ttl).saturating_add(wait).max(1);
        let mut inv = scripts::PUBLISH_UNIQUE.prepare_invoke();
        inv.key(k.env()).key(k.wake()).key(k.delayed());
        for r in k.ready_all() {
            inv.key(r);
        }
        inv.key(k.attempt())
            .key(k.denv())
            .key(k.uniq())
            .key(k.unique(digest))
            .arg(key_ttl)
            .arg(item.id)
            .arg(item.priority.min(9))
            .arg(item.due.map(|d| d.to_string()).unwrap_or_default())
            .arg(&item.blob)
            .arg(if item.attempt > 0 {
                item.attempt.to_string()
            } else {
                String::new()
            })
            .arg(digest)
            .arg(item.gate.as_deref().unwrap_or(""));
        let holder: String = self.eval_with_events(inv, &k, &queue, Carry::Wait).await?;
        if holder.is_empty() {
            return Ok(UniqueOutcome::New);
        }
        holder
            .parse::<TaskId>()
            .map(UniqueOutcome::Existing)
            .map_err(|_| {
                corrupt(
                    k.unique(digest),
                    format!("holder {holder:?} is not a task id"),
                )
            })
    }
}
