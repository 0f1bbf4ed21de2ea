//! What workflows need beyond plain tasks: publish once per id, joins, outcomes resolved
//! without a run, and counters.

use std::collections::HashMap;
use std::time::Duration;

use taskq::{BackendError, Envelope, Outcome, Payload, TaskId, Timestamp};

use super::events::Carry;
use super::publish::Prepared;
use super::values::{expiry, ms, rendered, About};
use super::{Inner, CHUNK};
use crate::conn::corrupt;
use crate::keys;
use crate::scripts;

impl Inner {
    pub(super) async fn publish_once(
        &self,
        batch: Vec<Envelope>,
        ttl: Duration,
    ) -> Result<usize, BackendError> {
        let items = self.prepare(batch);
        let mut groups: HashMap<&str, Vec<&Prepared>> = HashMap::new();
        for item in &items {
            groups.entry(&item.queue).or_default().push(item);
        }
        self.register_queues(groups.keys().copied()).await?;
        let mut published = 0usize;
        for (queue, items) in groups {
            let k = self.keys(queue);
            for chunk in items.chunks(CHUNK) {
                let mut inv = scripts::PUBLISH_ONCE.prepare_invoke();
                inv.key(k.env()).key(k.wake()).key(k.delayed());
                for r in k.ready_all() {
                    inv.key(r);
                }
                inv.key(k.attempt()).key(k.denv()).arg(ms(ttl).max(1));
                for item in chunk {
                    inv.key(k.once(item.id.as_str()))
                        .arg(item.id)
                        .arg(item.priority.min(9))
                        .arg(item.due.map(|d| d.to_string()).unwrap_or_default())
                        .arg(&item.blob)
                        .arg(if item.attempt > 0 {
                            item.attempt.to_string()
                        } else {
                            String::new()
                        })
                        .arg(item.gate.as_deref().unwrap_or(""));
                }
                let n: i64 = self.eval_with_events(inv, &k, queue, Carry::Wait).await?;
                published += usize::try_from(n).unwrap_or(0);
            }
        }
        Ok(published)
    }

    pub(super) async fn join(
        &self,
        key: &str,
        slot: u32,
        total: u32,
        value: Payload,
        ttl: Duration,
    ) -> Result<Option<Vec<Payload>>, BackendError> {
        let key = keys::join_key(&self.prefix, key);
        let mut inv = scripts::JOIN.prepare_invoke();
        inv.key(&key)
            .arg(slot)
            .arg(total)
            .arg(value.as_str())
            .arg(ms(ttl).max(1));
        let values: Option<Vec<String>> = self.eval(&inv).await?;
        values
            .map(|vs| {
                vs.into_iter()
                    .map(|v| {
                        Payload::from_json(v)
                            .map_err(|e| corrupt(&key, format!("a join value: {e}")))
                    })
                    .collect()
            })
            .transpose()
    }

    pub(super) async fn resolve(
        &self,
        id: TaskId,
        outcome: Outcome,
        ttl: Option<Duration>,
        reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        let sid = id.to_string();
        // Where the task is (or finished), else the queue of tasks found nowhere.
        let (queue, ours) = match self.cached(id) {
            Some(sent) => (sent.queue.to_string(), sent.ours),
            None => {
                let queues = self.candidates(id).await?;
                let mut pipe = redis::pipe();
                for q in &queues {
                    let k = self.keys(q);
                    pipe.cmd("HEXISTS").arg(k.env()).arg(&sid);
                    pipe.cmd("HEXISTS").arg(k.results()).arg(&sid);
                    pipe.cmd("HEXISTS").arg(k.denv()).arg(&sid);
                }
                let found: Vec<i64> = if queues.is_empty() {
                    Vec::new()
                } else {
                    self.query(&pipe).await?
                };
                let queue = queues
                    .iter()
                    .zip(found.chunks(3))
                    .find(|(_, f)| f.contains(&1))
                    .map_or_else(|| keys::RESOLVED_QUEUE.to_owned(), |(q, _)| q.clone());
                (queue, false)
            }
        };
        let reply = reply_to.or_else(|| ours.then(|| self.notifier.channel().to_owned()));
        let (stored, entry) = rendered(&sid, &outcome, &About::default())?;
        let k = self.keys(&queue);
        let mut inv = scripts::RESOLVE.prepare_invoke();
        inv.key(k.results())
            .key(k.expiry())
            .key(k.watch())
            .arg(&sid)
            .arg(stored)
            .arg(entry)
            .arg(expiry(ttl))
            .arg(reply.unwrap_or_default())
            .arg(Timestamp::now().as_millis());
        Ok(self.eval::<i64>(&inv).await? == 1)
    }

    pub(super) async fn incr_counter(
        &self,
        key: &str,
        by: i64,
        ttl: Duration,
    ) -> Result<i64, BackendError> {
        let key = keys::counter_key(&self.prefix, key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("INCRBY")
            .arg(&key)
            .arg(by)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ms(ttl).max(1))
            .ignore();
        let (n,): (i64,) = self.query(&pipe).await?;
        Ok(n)
    }
}
