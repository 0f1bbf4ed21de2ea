//! Completion: a batch of finished attempts through `complete_fast.lua` when every lease checks
//! out, else item by item through `complete.lua`.

use std::collections::HashMap;
use std::time::Duration;

use taskq::backend::Completion;
use taskq::BackendError;

use super::events::Carry;
use super::values::{expiry, outcome_json, rendered, About};
use super::{Inner, CHUNK};
use crate::codec::IdText;
use crate::keys;
use crate::scripts;

impl Inner {
    pub(super) async fn complete(&self, batch: &[Completion]) -> Result<Vec<bool>, BackendError> {
        let mut accepted = vec![false; batch.len()];
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, c) in batch.iter().enumerate() {
            groups.entry(c.lease.queue.as_str()).or_default().push(i);
        }
        for (queue, idx) in groups {
            let k = self.keys(queue);
            for chunk in idx.chunks(CHUNK) {
                if self.complete_fast(queue, &k, batch, chunk).await? {
                    for &i in chunk {
                        accepted[i] = true;
                    }
                    continue;
                }
                let mut inv = scripts::COMPLETE.prepare_invoke();
                k.complete_keys(&mut inv);
                for &i in chunk {
                    let c = &batch[i];
                    let id = c.lease.id.to_string();
                    let (stored, entry) = rendered(&id, &c.outcome, &about(c))?;
                    inv.arg(id)
                        .arg(c.lease.attempt.saturating_sub(1))
                        .arg(expiry(c.result_ttl))
                        .arg(stored)
                        .arg(entry)
                        .arg(c.reply_to.as_deref().unwrap_or(""));
                }
                let oks: Vec<i64> = self.eval_with_events(inv, &k, queue, Carry::IfFree).await?;
                for (&i, ok) in chunk.iter().zip(oks) {
                    accepted[i] = ok == 1;
                }
            }
        }
        Ok(accepted)
    }

    /// The batch through `complete_fast.lua`: `Ok(false)` if it must go item by item (a lease
    /// not current, a revocation, progress or foreign waiter pending, an id twice).
    async fn complete_fast(
        &self,
        queue: &str,
        k: &keys::QueueKeys,
        batch: &[Completion],
        chunk: &[usize],
    ) -> Result<bool, BackendError> {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut seen = std::collections::HashSet::with_capacity(chunk.len());
        for &i in chunk {
            let id = batch[i].lease.id;
            if !seen.insert(id) {
                return Ok(false);
            }
            ids.push(IdText::new(id));
        }
        // Rendered straight into the script's arguments (the same text as `rendered`: an id
        // needs no JSON escaping): one allocation for the outcome and one for the stored
        // result per task.
        let mut results: Vec<(IdText, String)> = Vec::new();
        // One expiry entry per result TTL in the batch: (ttl, expires ms, ids).
        let mut groups: Vec<(Duration, String, String)> = Vec::new();
        let mut channels: Vec<(&str, String)> = Vec::new();
        for (&i, id) in chunk.iter().zip(&ids) {
            let c = &batch[i];
            let o = outcome_json(&c.outcome)?;
            if let Some(ttl) = c.result_ttl {
                let at = match groups.iter().position(|g| g.0 == ttl) {
                    Some(at) => {
                        groups[at].2.push(' ');
                        at
                    }
                    None => {
                        groups.push((ttl, expiry(Some(ttl)), String::new()));
                        groups.len() - 1
                    }
                };
                let (_, expires, members) = &mut groups[at];
                members.push_str(id.as_str());
                let mut stored = String::with_capacity(expires.len() + o.len() + 96);
                stored.push_str(expires);
                stored.push_str("|{\"outcome\":");
                stored.push_str(&o);
                about(c).push_to(&mut stored);
                stored.push('}');
                results.push((*id, stored));
            }
            if let Some(chan) = c.reply_to.as_deref().filter(|c| !c.is_empty()) {
                let message = match channels.iter_mut().find(|(c, _)| *c == chan) {
                    Some((_, message)) => {
                        message.push(',');
                        message
                    }
                    None => {
                        channels.push((chan, String::from("[")));
                        let last = channels.len() - 1;
                        &mut channels[last].1
                    }
                };
                message.push_str("{\"id\":\"");
                message.push_str(id.as_str());
                message.push_str("\",\"outcome\":");
                message.push_str(&o);
                message.push('}');
            }
        }
        let counted = chunk.iter().any(|&i| batch[i].lease.attempt > 1);
        let mut inv = scripts::COMPLETE_FAST.prepare_invoke();
        k.complete_keys(&mut inv);
        inv.arg(ids.len())
            .arg(results.len())
            .arg(groups.len())
            .arg(channels.len())
            .arg(u8::from(counted))
            .arg(&ids);
        for &i in chunk {
            inv.arg(batch[i].lease.attempt.saturating_sub(1));
        }
        for (id, stored) in &results {
            inv.arg(id).arg(stored);
        }
        for (_, expires, members) in &groups {
            inv.arg(expires).arg(members);
        }
        for (chan, mut message) in channels {
            message.push(']');
            inv.arg(chan).arg(message);
        }
        let n: i64 = self.eval_with_events(inv, k, queue, Carry::IfFree).await?;
        Ok(n >= 0)
    }
}

/// What the stored result of `c` tells beside its outcome.
fn about(c: &Completion) -> About<'_> {
    About {
        task: c.task.as_deref(),
        attempt: c.lease.attempt,
        started_at: c.started_at,
        dead_reason: None,
        args: c.args.as_ref(),
    }
}
