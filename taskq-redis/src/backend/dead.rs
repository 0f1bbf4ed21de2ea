//! Dead letters: listing them, and requeuing or purging a selection (by id, by reason, or all,
//! oldest first, at most a limit per call).
//!
//! A selection is read page by page from the head of the list; the letters chosen on a page are
//! removed by one script call that checks each still sits where it was read, overwrites it with
//! a tombstone and drops every tombstone with one `LREM`: one pass over the list per page, where
//! an `LREM` per letter would scan it once per letter.

use taskq::backend::DeadSelection;
use taskq::{BackendError, DeadLetter, TaskId};

use super::{Inner, CHUNK};
use crate::codec;
use crate::keys::QueueKeys;
use crate::scripts;

/// Dead letters read per round trip while choosing.
const PAGE: usize = 1_000;

/// What is done with the chosen letters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Requeue,
    Purge,
}

/// One chosen letter: where it was read, its text, and (for a requeue) the message to store.
struct Chosen {
    index: usize,
    entry: String,
    requeue: Option<(String, u8, String)>,
}

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
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        self.remove_dead(queue, select, limit, Action::Requeue)
            .await
    }

    pub(super) async fn purge_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
    ) -> Result<usize, BackendError> {
        if *select == DeadSelection::All {
            // The oldest `limit`, in one atomic step.
            let k = self.keys(queue);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("LLEN")
                .arg(k.dead())
                .cmd("LTRIM")
                .arg(k.dead())
                .arg(i64::try_from(limit).unwrap_or(i64::MAX))
                .arg(-1)
                .ignore();
            let (n,): (usize,) = self.query(&pipe).await?;
            return Ok(n.min(limit));
        }
        self.remove_dead(queue, select, limit, Action::Purge).await
    }

    async fn remove_dead(
        &self,
        queue: &str,
        select: &DeadSelection,
        limit: usize,
        action: Action,
    ) -> Result<usize, BackendError> {
        let k = self.keys(queue);
        let mut done = 0usize;
        // Where the next page starts in the list as it is now.
        let mut offset = 0usize;
        // A page whose letters moved meanwhile (another operator) is read again, a few times.
        let mut changed = 0;
        while done < limit {
            let entries: Vec<String> = self
                .command(
                    redis::cmd("LRANGE")
                        .arg(k.dead())
                        .arg(offset)
                        .arg(offset + PAGE - 1),
                )
                .await?;
            if entries.is_empty() {
                break;
            }
            let read = entries.len();
            let mut chosen = Vec::new();
            for (i, entry) in entries.into_iter().enumerate() {
                if done + chosen.len() == limit {
                    break;
                }
                if let Some(c) = choose(queue, select, action, offset + i, entry) {
                    chosen.push(c);
                }
            }
            let wanted = chosen.len();
            let removed = self.remove_chosen(&k, action, chosen).await?;
            done += removed;
            if removed < wanted && changed < 3 {
                changed += 1;
                offset = 0;
                continue;
            }
            offset += read - removed;
            if read < PAGE {
                break;
            }
        }
        Ok(done)
    }

    /// Removes the chosen letters (ascending indices), a chunk per script call; returns how
    /// many were still where they were read.
    async fn remove_chosen(
        &self,
        k: &QueueKeys,
        action: Action,
        chosen: Vec<Chosen>,
    ) -> Result<usize, BackendError> {
        let mut removed = 0usize;
        for chunk in chosen.chunks(CHUNK) {
            let tomb = format!("~removed:{}", TaskId::new());
            let n: i64 = match action {
                Action::Requeue => {
                    let mut inv = scripts::REQUEUE.prepare_invoke();
                    inv.key(k.env()).key(k.dead()).key(k.wake());
                    for r in k.ready_all() {
                        inv.key(r);
                    }
                    inv.key(k.results())
                        .key(k.expiry())
                        .key(k.attempt())
                        .arg(&tomb);
                    for c in chunk {
                        let Some((id, priority, blob)) = &c.requeue else {
                            continue;
                        };
                        // Earlier chunks' letters are gone: everything after them moved up.
                        inv.arg(c.index - removed)
                            .arg(&c.entry)
                            .arg(id)
                            .arg(*priority)
                            .arg(blob);
                    }
                    let n = self.eval(&inv).await?;
                    // A waiter here must not be answered with the outcome it was told before.
                    for c in chunk {
                        if let Some(id) = c.requeue.as_ref().and_then(|(id, _, _)| id.parse().ok())
                        {
                            self.notifier.forget(id);
                        }
                    }
                    n
                }
                Action::Purge => {
                    let mut inv = scripts::PURGE_DEAD.prepare_invoke();
                    inv.key(k.dead()).arg(&tomb);
                    for c in chunk {
                        inv.arg(c.index - removed).arg(&c.entry);
                    }
                    self.eval(&inv).await?
                }
            };
            let n = usize::try_from(n).unwrap_or(0);
            removed += n;
            if n < chunk.len() {
                // The list changed under this page: the indices of the next chunk are unsure.
                break;
            }
        }
        Ok(removed)
    }
}

/// The letter at `index`, if `select` picks it (and, to requeue, its envelope decodes).
fn choose(
    queue: &str,
    select: &DeadSelection,
    action: Action,
    index: usize,
    entry: String,
) -> Option<Chosen> {
    let letter = codec::parse_dead(queue, &entry);
    if !select.matches(letter.id, letter.reason) {
        return None;
    }
    let requeue = match action {
        Action::Purge => None,
        Action::Requeue => {
            // A malformed message cannot be requeued: it stays.
            let mut env = letter.envelope?;
            env.attempt = 0;
            env.eta = None;
            env.expires = None;
            let blob = codec::encode_message(&env);
            Some((env.id.to_string(), env.priority.min(9), blob))
        }
    };
    Some(Chosen {
        index,
        entry,
        requeue,
    })
}
