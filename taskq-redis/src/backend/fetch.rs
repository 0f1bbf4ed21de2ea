//! The fetch loop: `fetch.lua` leases ids (after its timer pass: expired leases reclaimed, due
//! tasks promoted, expired results swept), one `HMGET` reads their messages, and a worker that
//! finds nothing blocks on the queues' wake lists until the earliest due time. Malformed,
//! vanished and expired messages are settled here so that only good deliveries reach the worker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::Value;
use taskq::backend::{Completion, FetchRequest};
use taskq::{
    BackendError, DeadLetterReason, Delivery, Envelope, FailureKind, Lease, Outcome, TaskFailure,
    Timestamp,
};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::values::{expiry, int, ms, rendered, text, About};
use super::{lock, Inner};
use crate::codec;
use crate::conn::{self, corrupt, BACKEND};
use crate::scripts;

/// A busy worker reclaims expired leases and promotes due tasks at most this often (a fetch
/// that finds nothing ready always does both).
const TIMER_CHECK: Duration = Duration::from_millis(20);

/// What one run of the fetch script gave.
struct Round {
    deliveries: Vec<Delivery>,
    next_wake: Option<Duration>,
    popped: usize,
}

/// A fetch round on its way to the fetch that asked for it. If nobody takes it out (the fetch
/// was dropped, even after the channel accepted it), dropping it hands its leases back.
struct Unclaimed {
    round: Option<Round>,
    inner: Arc<Inner>,
}

impl Unclaimed {
    fn take(mut self) -> Option<Round> {
        self.round.take()
    }
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        let Some(round) = self.round.take() else {
            return;
        };
        if round.deliveries.is_empty() {
            return;
        }
        let leases: Vec<Lease> = round.deliveries.into_iter().map(|d| d.lease).collect();
        let inner = self.inner.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = inner.release(leases).await {
                    tracing::warn!(error = %e, "could not hand back an abandoned fetch; its leases will expire");
                }
            });
        }
    }
}

impl Inner {
    pub(super) async fn fetch(
        self: &Arc<Self>,
        req: FetchRequest<'_>,
    ) -> Result<Vec<Delivery>, BackendError> {
        if req.max == 0 || req.queues.is_empty() {
            return Ok(Vec::new());
        }
        let give_up = Instant::now() + req.wait;
        loop {
            // The script runs in a task of its own: if this future is dropped meanwhile (a
            // worker stopping), the leases it took are handed back rather than left to expire.
            let (tx, rx) = oneshot::channel();
            let inner = self.clone();
            let queues = req.queues.to_vec();
            let (max, lease) = (req.max, req.lease);
            tokio::spawn(async move {
                let round = inner.fetch_round(&queues, max, lease).await;
                // Whether the send fails (the fetch is gone) or the value is dropped unread in
                // the channel (the fetch went away just after), `Unclaimed` hands it back.
                let _ = tx.send(round.map(|r| Unclaimed {
                    round: Some(r),
                    inner,
                }));
            });
            let round = rx
                .await
                .map_err(|_| BackendError::Closed(BACKEND))??
                .take()
                .ok_or(BackendError::Closed(BACKEND))?;
            if !round.deliveries.is_empty() {
                return Ok(round.deliveries);
            }
            if round.popped > 0 {
                continue;
            }
            let now = Instant::now();
            if now >= give_up {
                return Ok(Vec::new());
            }
            let mut wait = give_up - now;
            if let Some(due) = round.next_wake {
                wait = wait.min(due + Duration::from_millis(1));
            }
            self.block(req.queues, wait).await;
        }
    }

    async fn fetch_round(
        self: &Arc<Self>,
        queues: &[String],
        max: usize,
        lease: Duration,
    ) -> Result<Round, BackendError> {
        let mut inv = scripts::FETCH.prepare_invoke();
        for q in queues {
            let k = self.keys(q);
            inv.key(k.env())
                .key(k.lease())
                .key(k.delayed())
                .key(k.wake())
                .key(k.dead());
            for r in k.ready_all() {
                inv.key(r);
            }
            inv.key(k.results())
                .key(k.expiry())
                .key(k.attempt())
                .key(k.denv())
                .key(k.paused());
        }
        let check_timers = {
            let mut last = lock(&self.timers_checked);
            let due = last.is_none_or(|t| t.elapsed() >= TIMER_CHECK);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        inv.arg(max)
            .arg(ms(lease).max(1))
            .arg(queues.len())
            .arg(Timestamp::now().as_millis())
            .arg(u8::from(check_timers));
        let values: Vec<Value> = self.eval(&inv).await?;
        let mut it = values.into_iter();
        let next = it.next().as_ref().and_then(int).unwrap_or(-1);
        let popped = it.next().as_ref().and_then(int).unwrap_or(0);
        // (queue, id, attempt) of every lease taken.
        let mut leased: Vec<(&String, String, u32)> = Vec::new();
        while let (Some(q), Some(id), Some(att)) = (it.next(), it.next(), it.next()) {
            let queue = int(&q)
                .and_then(|i| usize::try_from(i - 1).ok())
                .and_then(|i| queues.get(i))
                .ok_or_else(|| corrupt("fetch", "the fetch script named no queue"))?;
            let id = text(id).unwrap_or_default();
            // The script returns the count of deliveries over before this one.
            let attempt = int(&att)
                .and_then(|a| u32::try_from(a).ok())
                .unwrap_or(0)
                .saturating_add(1);
            leased.push((queue, id, attempt));
        }
        let blobs = match self.read_messages(&leased).await {
            Ok(blobs) => blobs,
            Err(e) => {
                // Hand the leases back rather than leave them to expire (which would count an
                // attempt); if the server is gone, that fails too and they expire.
                let leases = leased
                    .iter()
                    .filter_map(|(queue, id, attempt)| {
                        Some(Lease {
                            id: id.parse().ok()?,
                            queue: (*queue).clone(),
                            attempt: *attempt,
                        })
                    })
                    .collect();
                if let Err(release) = self.release(leases).await {
                    tracing::debug!(error = %release, "could not hand back leases after a failed read");
                }
                return Err(e);
            }
        };
        let mut deliveries = Vec::new();
        let mut expired = Vec::new();
        let mut vanished: HashMap<&str, Vec<(&str, u32)>> = HashMap::new();
        let now = Timestamp::now();
        for ((queue, id, attempt), blob) in leased.iter().zip(blobs) {
            let (queue, attempt) = (*queue, *attempt);
            let Some(blob) = blob else {
                vanished
                    .entry(queue.as_str())
                    .or_default()
                    .push((id.as_str(), attempt));
                continue;
            };
            let id = id.as_str();
            let Some(header) = codec::parse_message(&blob) else {
                let detail =
                    "the message is not a taskq message: it has no `priority|channel|` header";
                self.after_lease(self.bury(queue, id, attempt, detail).await);
                continue;
            };
            match serde_json::from_str::<Envelope>(header.json) {
                Ok(mut env) if env.id.to_string() == id => {
                    env.attempt = attempt;
                    env.queue.clone_from(queue);
                    if env.is_expired_at(now) {
                        let failure = TaskFailure::new(
                            FailureKind::Expired,
                            "the task expired before a worker started it",
                        );
                        expired.push(Completion {
                            lease: Delivery::new(env.clone()).lease,
                            outcome: Outcome::Failure(failure),
                            result_ttl: env.result_ttl(),
                            reply_to: env.reply_to.clone(),
                            task: Some(env.task.clone().into()),
                            started_at: None,
                            args: Some(env.args.clone()),
                        });
                    } else {
                        deliveries.push(Delivery::new(env));
                    }
                }
                Ok(env) => {
                    let detail = format!(
                        "the message stored under id `{id}` is the envelope of task {}",
                        env.id
                    );
                    self.after_lease(self.bury(queue, id, attempt, &detail).await);
                }
                Err(e) => {
                    let detail = format!("the message is not a taskq envelope: {e}");
                    self.after_lease(self.bury(queue, id, attempt, &detail).await);
                }
            }
        }
        for (queue, items) in vanished {
            let k = self.keys(queue);
            let mut inv = scripts::VANISHED.prepare_invoke();
            inv.key(k.env())
                .key(k.lease())
                .key(k.dead())
                .key(k.attempt())
                .key(k.cancel())
                .key(k.denv())
                .arg(Timestamp::now().as_millis());
            for (id, attempt) in items {
                inv.arg(id).arg(attempt);
            }
            self.after_lease(self.eval::<i64>(&inv).await.map(drop));
        }
        if !expired.is_empty() {
            self.after_lease(self.complete(&expired).await.map(drop));
        }
        Ok(Round {
            deliveries,
            next_wake: u64::try_from(next).ok().map(Duration::from_millis),
            popped: usize::try_from(popped).unwrap_or(0),
        })
    }

    /// A failed step after the fetch took its leases (burying a malformed message, dropping a
    /// vanished one, failing an expired one) is logged, not returned: the round's good
    /// deliveries must reach the worker, and what failed is retried when its lease expires.
    fn after_lease(&self, result: Result<(), BackendError>) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "a fetch could not settle a malformed, vanished or expired task; its lease will expire");
        }
    }

    /// The stored messages of leased ids, in order (`None`: gone), one `HMGET` per queue in one
    /// round trip: outside the fetch script, where each message would be copied into Lua and
    /// back.
    async fn read_messages(
        &self,
        leased: &[(&String, String, u32)],
    ) -> Result<Vec<Option<String>>, BackendError> {
        if leased.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        let mut start = 0;
        while start < leased.len() {
            let queue = leased[start].0;
            let end = leased[start..]
                .iter()
                .position(|l| l.0 != queue)
                .map_or(leased.len(), |n| start + n);
            let hmget = pipe.cmd("HMGET").arg(self.keys(queue).env());
            for l in &leased[start..end] {
                hmget.arg(&l.1);
            }
            start = end;
        }
        let replies: Vec<Vec<Value>> = self.query(&pipe).await?;
        // Bytes that are not UTF-8 are kept (lossily) so that the message is buried, not lost.
        Ok(replies
            .into_iter()
            .flatten()
            .map(|v| match v {
                Value::Nil => None,
                Value::BulkString(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                other => text(other),
            })
            .collect())
    }

    async fn bury(
        &self,
        queue: &str,
        id: &str,
        attempt: u32,
        detail: &str,
    ) -> Result<(), BackendError> {
        tracing::warn!(%queue, %id, %detail, "dead-lettering a malformed message");
        let k = self.keys(queue);
        let about = About {
            attempt,
            dead_reason: Some(DeadLetterReason::MalformedMessage),
            ..About::default()
        };
        let (stored, entry) = rendered(
            id,
            &Outcome::Failure(codec::malformed_failure(detail)),
            &about,
        )?;
        let mut inv = scripts::BURY.prepare_invoke();
        k.dead_letter_keys(&mut inv);
        inv.arg(id)
            .arg(attempt)
            .arg(expiry(Some(taskq::DEFAULT_RESULT_TTL)))
            .arg(stored)
            .arg(entry)
            .arg(Timestamp::now().as_millis());
        self.eval::<i64>(&inv).await?;
        Ok(())
    }

    /// Blocks on the queues' wake lists for up to `wait` on the dedicated connection.
    async fn block(&self, queues: &[String], wait: Duration) {
        let Ok(mut guard) = tokio::time::timeout(wait, self.blocking.lock()).await else {
            return;
        };
        if guard.is_none() {
            match conn::blocking_connection(&self.client).await {
                Ok(c) => *guard = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "no blocking connection");
                    drop(guard);
                    tokio::time::sleep(wait.min(Duration::from_millis(100))).await;
                    return;
                }
            }
        }
        // If this future is dropped mid-wait, the connection goes too: a BLPOP left pending on
        // it would delay the next one.
        let mut slot = BlockingSlot { guard, done: false };
        let Some(conn) = slot.guard.as_mut() else {
            return;
        };
        let millis = ms(wait).max(1);
        let mut cmd = redis::cmd("BLPOP");
        for q in queues {
            cmd.arg(self.keys(q).wake());
        }
        cmd.arg(format!("{}.{:03}", millis / 1000, millis % 1000));
        let reply = tokio::time::timeout(
            wait + Duration::from_secs(2),
            cmd.query_async::<Option<(String, String)>>(conn),
        )
        .await;
        match reply {
            Ok(Ok(_)) => slot.done = true,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "blocking wait failed; reconnecting");
                *slot.guard = None;
                slot.done = true;
                tokio::time::sleep(wait.min(Duration::from_millis(50))).await;
            }
            Err(_) => {
                *slot.guard = None;
                slot.done = true;
            }
        }
    }
}

struct BlockingSlot<'a> {
    guard: tokio::sync::MutexGuard<'a, Option<MultiplexedConnection>>,
    done: bool,
}

impl Drop for BlockingSlot<'_> {
    fn drop(&mut self) {
        if !self.done {
            *self.guard = None;
        }
    }
}
