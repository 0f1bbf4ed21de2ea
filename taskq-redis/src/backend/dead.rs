//! Dead letters: listing, requeuing and purging them.

use taskq::{BackendError, DeadLetter, TaskId};

use super::{Inner, CHUNK};
use crate::codec;
use crate::scripts;

impl Inner {
    pub(super) async fn dead_letters(
        &self,
        queue: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BackendError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let k = self.keys(queue);
        let last = i64::try_from(limit).unwrap_or(i64::MAX).saturating_sub(1);
        let entries: Vec<String> = self
            .command(redis::cmd("LRANGE").arg(k.dead()).arg(0).arg(last))
            .await?;
        Ok(entries
            .iter()
            .map(|e| codec::parse_dead(queue, e))
            .collect())
    }

    pub(super) async fn requeue_dead(
        &self,
        queue: &str,
        ids: Option<&[TaskId]>,
    ) -> Result<usize, BackendError> {
        let k = self.keys(queue);
        let entries: Vec<String> = self
            .command(redis::cmd("LRANGE").arg(k.dead()).arg(0).arg(-1))
            .await?;
        let mut chosen = Vec::new();
        for entry in entries {
            let letter = codec::parse_dead(queue, &entry);
            if ids.is_some_and(|ids| !ids.contains(&letter.id)) {
                continue;
            }
            let Some(mut env) = letter.envelope else {
                continue;
            };
            env.attempt = 0;
            env.eta = None;
            env.expires = None;
            let blob = codec::encode_message(&env);
            chosen.push((entry, env.id.to_string(), env.priority.min(9), blob));
        }
        let mut moved = 0usize;
        for chunk in chosen.chunks(CHUNK) {
            let mut inv = scripts::REQUEUE.prepare_invoke();
            inv.key(k.env()).key(k.dead()).key(k.wake());
            for r in k.ready_all() {
                inv.key(r);
            }
            inv.key(k.results()).key(k.expiry()).key(k.attempt());
            for (entry, id, priority, blob) in chunk {
                inv.arg(entry).arg(id).arg(*priority).arg(blob);
            }
            let n: i64 = self.eval(&inv).await?;
            moved += usize::try_from(n).unwrap_or(0);
        }
        Ok(moved)
    }

    pub(super) async fn purge_dead(&self, queue: &str) -> Result<usize, BackendError> {
        let k = self.keys(queue);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("LLEN")
            .arg(k.dead())
            .cmd("DEL")
            .arg(k.dead())
            .ignore();
        let (n,): (usize,) = self.query(&pipe).await?;
        Ok(n)
    }
}
