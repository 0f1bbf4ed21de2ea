//! Results: a task's record, waiting for its outcome (woken by the completion's `PUBLISH`,
//! with a `watch` registration for tasks another process sent), and reading stored outcomes.

use std::time::Duration;

use redis::Value;
use taskq::{BackendError, Outcome, Payload, TaskId, TaskRecord, TaskState, Timestamp};
use tokio::time::Instant;

use super::lookup::Sent;
use super::values::{int, text};
use super::Inner;
use crate::codec::StoredResult;
use crate::conn::{corrupt, BACKEND};
use crate::scripts;

/// A stored outcome (`<expires ms>|<json>`), unless its expiry has passed.
pub(super) fn live_result(stored: Value) -> Option<String> {
    let stored = text(stored)?;
    let (expires, _) = stored.split_once('|')?;
    (expires.parse::<u64>().ok()? > Timestamp::now().as_millis()).then_some(stored)
}

/// Decodes a stored outcome, `<expires ms>|<json>`.
pub(super) fn decode_result(key: &str, stored: &str) -> Result<StoredResult, BackendError> {
    let json = stored
        .split_once('|')
        .map(|(_, json)| json)
        .ok_or_else(|| corrupt(key, "stored result without its expiry"))?;
    serde_json::from_str(json).map_err(|e| corrupt(key, format!("stored result: {e}")))
}

impl Inner {
    pub(super) async fn record(&self, id: TaskId) -> Result<Option<TaskRecord>, BackendError> {
        let sid = id.to_string();
        let queues = self.candidates(id).await?;
        if queues.is_empty() {
            return Ok(None);
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for q in &queues {
            let k = self.keys(q);
            pipe.cmd("HGET").arg(k.results()).arg(&sid);
            pipe.cmd("HGET").arg(k.env()).arg(&sid);
            pipe.cmd("ZSCORE").arg(k.lease()).arg(&sid);
            pipe.cmd("ZSCORE").arg(k.delayed()).arg(&sid);
            pipe.cmd("HGET").arg(k.progress()).arg(&sid);
            pipe.cmd("HGET").arg(k.attempt()).arg(&sid);
            pipe.cmd("HGET").arg(k.denv()).arg(&sid);
        }
        let flat: Vec<Value> = self.query(&pipe).await?;
        let score = |v: &Value| !matches!(v, Value::Nil);
        for (queue, row) in queues.iter().zip(flat.chunks(7)) {
            let [result, blob, lease, delayed, progress, attempt, not_due] = row else {
                continue;
            };
            let result = live_result(result.clone());
            let blob = text(blob.clone()).or_else(|| text(not_due.clone()));
            let (lease, delayed) = (score(lease), score(delayed));
            let progress = text(progress.clone()).and_then(|p| Payload::from_json(p).ok());
            if let Some(json) = result {
                let stored = decode_result(&self.keys(queue).results(), &json)?;
                return Ok(Some(TaskRecord {
                    id,
                    state: stored.outcome.state(),
                    outcome: Some(stored.outcome),
                    progress: stored.progress.or(progress),
                }));
            }
            if blob.is_none() {
                continue;
            }
            let attempt = int(attempt).unwrap_or(0);
            let state = if lease {
                TaskState::Running
            } else if delayed && attempt > 0 {
                TaskState::Retrying
            } else if delayed {
                TaskState::Scheduled
            } else {
                TaskState::Pending
            };
            return Ok(Some(TaskRecord {
                id,
                state,
                outcome: None,
                progress,
            }));
        }
        Ok(None)
    }

    pub(super) async fn wait_result(
        &self,
        id: TaskId,
        timeout: Option<Duration>,
    ) -> Result<Option<Outcome>, BackendError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.notifier.ensure_listening();
        let mut generation = self.notifier.generation();
        let mut waiter = self.notifier.register(id);
        if let Some(outcome) = self.notifier.take_stashed(id) {
            return Ok(Some(outcome));
        }
        // Sent by this instance on a subscription unbroken since: the notification cannot have
        // been missed, so there is no stored result to read yet.
        // (The generation is read first: a resubscription after this point wakes the loop.)
        generation.borrow_and_update();
        let mut told_for_sure = self
            .cached(id)
            .and_then(|s| s.mark)
            .is_some_and(|m| self.notifier.unbroken_since(m));
        let mut watched = Vec::new();
        let result = loop {
            if !std::mem::take(&mut told_for_sure) {
                match self.check_result(id, &mut watched).await {
                    Ok(Some(outcome)) => break Ok(Some(outcome)),
                    Ok(None) => {}
                    Err(e) => break Err(e),
                }
            }
            let until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                got = &mut waiter.rx => break got.map(Some).map_err(|_| BackendError::Closed(BACKEND)),
                changed = generation.changed() => {
                    if changed.is_err() {
                        break Err(BackendError::Closed(BACKEND));
                    }
                    // (Re)subscribed: a notification may have been missed; read again.
                }
                () = until => break Ok(None),
            }
        };
        if !watched.is_empty() {
            self.unwatch(id, &watched).await;
        }
        result
    }

    /// The stored outcome, if there is one; otherwise makes sure a completion will tell this
    /// instance (for tasks it did not publish, by registering as a watcher).
    async fn check_result(
        &self,
        id: TaskId,
        watched: &mut Vec<String>,
    ) -> Result<Option<Outcome>, BackendError> {
        let sid = id.to_string();
        if let Some(Sent {
            queue, ours: true, ..
        }) = self.cached(id)
        {
            let k = self.keys(&queue);
            let mut pipe = redis::pipe();
            pipe.cmd("HGET").arg(k.results()).arg(&sid);
            let (stored,): (Value,) = self.query(&pipe).await?;
            return live_result(stored)
                .map(|s| decode_result(&k.results(), &s).map(|r| r.outcome))
                .transpose();
        }
        let queues = self.candidates(id).await?;
        let mut force = watched.is_empty() && self.cached(id).is_some();
        loop {
            let mut registered = Vec::new();
            for queue in &queues {
                let k = self.keys(queue);
                let mut inv = scripts::WATCH.prepare_invoke();
                inv.key(k.results())
                    .key(k.expiry())
                    .key(k.env())
                    .key(k.watch())
                    .key(k.denv())
                    .arg(&sid)
                    .arg(self.notifier.channel())
                    .arg(if force { "1" } else { "0" })
                    .arg("add")
                    .arg(Timestamp::now().as_millis());
                let reply: Vec<Value> = self.eval(&inv).await?;
                let mut it = reply.into_iter();
                match it.next().as_ref().and_then(int) {
                    Some(1) => {
                        let json = it.next().and_then(text).unwrap_or_default();
                        return decode_result(&k.results(), &json).map(|r| Some(r.outcome));
                    }
                    Some(2) => registered.push(queue.clone()),
                    _ => {}
                }
            }
            for q in registered {
                if !watched.contains(&q) {
                    watched.push(q);
                }
            }
            if !watched.is_empty() || force || queues.is_empty() {
                return Ok(None);
            }
            // Unknown everywhere (not sent yet, or its result expired): watch every queue.
            force = true;
        }
    }

    async fn unwatch(&self, id: TaskId, queues: &[String]) {
        let sid = id.to_string();
        for queue in queues {
            let k = self.keys(queue);
            let mut inv = scripts::WATCH.prepare_invoke();
            inv.key(k.results())
                .key(k.expiry())
                .key(k.env())
                .key(k.watch())
                .key(k.denv())
                .arg(&sid)
                .arg(self.notifier.channel())
                .arg("0")
                .arg("remove")
                .arg(Timestamp::now().as_millis());
            if let Err(e) = self.eval::<Vec<Value>>(&inv).await {
                tracing::debug!(error = %e, "could not unregister a result watcher");
            }
        }
    }
}
