//! Publishing: messages rendered as stored, then one pipelined `MULTI` per batch (`HSET env`,
//! `RPUSH r<p>`, or `HSET denv` + `ZADD delayed` for scheduled ones, and a wake marker).
//! Concurrent publishes of one process coalesce into one pipeline.

use std::collections::HashMap;
use std::sync::Arc;

use taskq::{BackendError, Envelope, Timestamp};
use tokio::sync::oneshot;

use super::lookup::Sent;
use super::{lock, Inner};
use crate::codec::{self, IdText};
use crate::conn::BACKEND;
use crate::keys;

/// Publishes waiting for the next pipeline: concurrent publishes coalesce into one.
#[derive(Default)]
pub(super) struct PublishQueue {
    pending: Vec<PendingPublish>,
    flushing: bool,
}

struct PendingPublish {
    items: Vec<Prepared>,
    done: oneshot::Sender<Result<(), BackendError>>,
}

/// A message on its way out, encoded.
pub(super) struct Prepared {
    pub(super) id: IdText,
    pub(super) queue: Arc<str>,
    pub(super) attempt: u32,
    pub(super) priority: u8,
    pub(super) due: Option<u64>,
    pub(super) blob: String,
    /// Its line in the queue's `gate` hash, if it has limits (see `flow.rs`).
    pub(super) gate: Option<String>,
}

/// A publish written from its caller's task; when it ends (or its future is dropped), the
/// publishes that queued up meanwhile go to a flusher task.
struct InlineWrite<'a>(&'a Arc<Inner>);

impl Drop for InlineWrite<'_> {
    fn drop(&mut self) {
        let mut q = lock(&self.0.publisher);
        if q.pending.is_empty() {
            q.flushing = false;
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            drop(q);
            rt.spawn(self.0.clone().flush());
        } else {
            // Dropped outside a runtime: nothing can write the waiting publishes.
            q.flushing = false;
            for p in std::mem::take(&mut q.pending) {
                let _ = p.done.send(Err(BackendError::Closed(BACKEND)));
            }
        }
    }
}

/// The same error again, for every publisher of a failed batch.
fn duplicate(e: &BackendError) -> BackendError {
    let text: taskq::BoxError = e.to_string().into();
    match e {
        BackendError::Unavailable { url, .. } => BackendError::Unavailable {
            backend: BACKEND,
            url: url.clone(),
            source: text,
        },
        BackendError::Closed(b) => BackendError::Closed(b),
        _ => BackendError::Command {
            backend: BACKEND,
            source: text,
        },
    }
}

impl Inner {
    pub(super) async fn publish(
        self: &Arc<Self>,
        batch: Vec<Envelope>,
    ) -> Result<(), BackendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let items = self.prepare(batch);
        let waiting = {
            let mut q = lock(&self.publisher);
            if q.flushing {
                let (tx, rx) = oneshot::channel();
                q.pending.push(PendingPublish { items, done: tx });
                Err(rx)
            } else {
                q.flushing = true;
                Ok(items)
            }
        };
        match waiting {
            // Nothing was being written: this batch is written from the caller's task, with no
            // hop through a flusher task. Publishes arriving meanwhile wait in `pending`; the
            // guard hands them to a flusher when this write ends or is dropped.
            Ok(items) => {
                let _guard = InlineWrite(self);
                self.write_publish(items.iter()).await
            }
            Err(rx) => rx.await.map_err(|_| BackendError::Closed(BACKEND))?,
        }
    }

    /// Stamps this instance's reply channel into messages without one whose result is kept,
    /// remembers where those go, and renders every message as stored.
    pub(super) fn prepare(&self, batch: Vec<Envelope>) -> Vec<Prepared> {
        let inner = self;
        let now = Timestamp::now();
        let mut items = Vec::with_capacity(batch.len());
        let mut any_ours = false;
        let mark = inner.notifier.mark();
        // A batch is mostly for one queue: one shared name.
        let mut last_queue: Option<Arc<str>> = None;
        {
            let mut ids = lock(&inner.ids);
            for mut env in batch {
                let queue = match &last_queue {
                    Some(q) if **q == *env.queue => q.clone(),
                    _ => last_queue.insert(Arc::from(env.queue.as_str())).clone(),
                };
                // A result that is not kept has no waiter: its message names no reply channel
                // (none is told) and its id is not remembered (the cache is for waiting).
                if env.result_ttl_ms.is_some() {
                    let ours = env.reply_to.is_none();
                    if ours {
                        env.reply_to = Some(inner.notifier.channel().to_owned());
                        any_ours = true;
                    }
                    ids.insert(
                        env.id,
                        Sent {
                            queue: queue.clone(),
                            ours,
                            mark: mark.filter(|_| ours),
                        },
                    );
                }
                items.push(Prepared {
                    id: IdText::new(env.id),
                    queue,
                    attempt: env.attempt,
                    priority: env.priority,
                    due: env.eta.filter(|eta| *eta > now).map(Timestamp::as_millis),
                    blob: codec::encode_message(&env),
                    gate: env.gate.as_ref().map(super::flow::gate_line),
                });
            }
        }
        if any_ours {
            // Subscribe now, so the result of a quick task finds the subscription in place.
            inner.notifier.ensure_listening();
        }
        items
    }

    /// Adds queue names this instance has not registered yet to the set of queues.
    pub(super) async fn register_queues<'q>(
        &self,
        queues: impl Iterator<Item = &'q str>,
    ) -> Result<(), BackendError> {
        let new: Vec<String> = {
            let known = lock(&self.known_queues);
            queues
                .filter(|q| !known.contains(*q))
                .map(str::to_owned)
                .collect()
        };
        if new.is_empty() {
            return Ok(());
        }
        self.command::<i64>(
            redis::cmd("SADD")
                .arg(keys::queues_key(&self.prefix))
                .arg(&new),
        )
        .await?;
        lock(&self.known_queues).extend(new);
        Ok(())
    }

    async fn write_publish<'a>(
        &self,
        items: impl Iterator<Item = &'a Prepared>,
    ) -> Result<(), BackendError> {
        let mut groups: HashMap<&str, Vec<&Prepared>> = HashMap::new();
        for item in items {
            groups.entry(&item.queue).or_default().push(item);
        }
        let new_queues: Vec<String> = {
            let known = lock(&self.known_queues);
            groups
                .keys()
                .filter(|q| !known.contains(**q))
                .map(|q| (*q).to_owned())
                .collect()
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !new_queues.is_empty() {
            pipe.cmd("SADD")
                .arg(keys::queues_key(&self.prefix))
                .arg(&new_queues)
                .ignore();
        }
        for (queue, items) in &groups {
            let k = self.keys(queue);
            // Messages not due yet wait in `denv`; the fetch moves them to `env` when due.
            for (due, key) in [(false, k.env()), (true, k.denv())] {
                let (mut count, mut bytes) = (0, 0);
                for item in items.iter().filter(|i| i.due.is_some() == due) {
                    count += 2;
                    bytes += 36 + item.blob.len();
                }
                if count == 0 {
                    continue;
                }
                // Sized up front: a batch of 1,000 messages is some 300 KB, grown by doubling
                // otherwise.
                let mut hset = redis::Cmd::with_capacity(count + 2, bytes + key.len() + 4);
                hset.arg("HSET").arg(&key);
                for item in items.iter().filter(|i| i.due.is_some() == due) {
                    hset.arg(item.id).arg(&item.blob);
                }
                pipe.add_command(hset).ignore();
            }
            // flow: the limits of gated messages, beside them.
            if items.iter().any(|i| i.gate.is_some()) {
                let h = pipe.cmd("HSET").arg(k.gate());
                for item in items {
                    if let Some(line) = &item.gate {
                        h.arg(item.id).arg(line);
                    }
                }
                h.ignore();
            }
            let counted: Vec<&&Prepared> = items.iter().filter(|i| i.attempt > 0).collect();
            if !counted.is_empty() {
                let h = pipe.cmd("HSET").arg(k.attempt());
                for item in counted {
                    h.arg(item.id).arg(item.attempt);
                }
                h.ignore();
            }
            let mut ready: [Vec<IdText>; 10] = Default::default();
            let mut delayed: Vec<(u64, IdText)> = Vec::new();
            for item in items {
                match item.due {
                    Some(due) => delayed.push((due, item.id)),
                    None => ready[usize::from(item.priority.min(9))].push(item.id),
                }
            }
            for (p, ids) in ready.iter().enumerate() {
                if !ids.is_empty() {
                    pipe.cmd("RPUSH").arg(k.ready(p as u8)).arg(ids).ignore();
                }
            }
            if !delayed.is_empty() {
                let z = pipe.cmd("ZADD").arg(k.delayed());
                for (due, id) in &delayed {
                    z.arg(*due).arg(*id);
                }
                z.ignore();
            }
            pipe.cmd("RPUSH").arg(k.wake()).arg("1").ignore();
            pipe.cmd("LTRIM").arg(k.wake()).arg(0).arg(0).ignore();
        }
        // With the queues' buffered events (their enqueues among them): in the log no later
        // than the messages, so no worker can start a task before its `enqueued` is logged.
        let queues: Vec<&str> = groups.keys().copied().collect();
        self.query_with_events::<()>(pipe, &queues).await?;
        if !new_queues.is_empty() {
            lock(&self.known_queues).extend(new_queues);
        }
        Ok(())
    }

    async fn flush(self: Arc<Self>) {
        loop {
            let batch = {
                let mut q = lock(&self.publisher);
                if q.pending.is_empty() {
                    q.flushing = false;
                    return;
                }
                std::mem::take(&mut q.pending)
            };
            let result = self
                .write_publish(batch.iter().flat_map(|p| &p.items))
                .await;
            for p in batch {
                let r = match &result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(duplicate(e)),
                };
                let _ = p.done.send(r);
            }
        }
    }
}
