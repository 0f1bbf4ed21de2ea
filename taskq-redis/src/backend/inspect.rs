//! What operators see: the queues, a queue's messages by state with paging, one task's full
//! record.
//!
//! Listings read the structures the transitions keep (no copy for inspection): ready ids from
//! the lists `r9` .. `r0`, scheduled ones from `delayed`, leased ones from `lease` (the worker
//! holding each found in the live workers' heartbeats), dead letters from `dead`; then the
//! messages from `env` (and `denv`). A cursor is an offset into that order, as text: exact
//! while the queue stands still, and a page after a change may repeat or skip an item at its
//! edge, as any offset pager does.

use std::collections::HashMap;

use redis::Value;
use taskq::backend::{ListState, Page, TaskDetail, TaskSummary};
use taskq::{BackendError, DeadLetter, Envelope, Payload, TaskId, TaskState, Timestamp};

use super::results::{decode_result, live_result};
use super::values::{int, text};
use super::Inner;
use crate::codec;
use crate::keys::{self, QueueKeys};

/// How many dead letters of a queue `inspect` searches for a task's (the newest are at the
/// end: it searches from there).
const DEAD_SEARCH: usize = 10_000;

/// The offset a cursor names (`None`: the first page).
fn offset(cursor: Option<&str>) -> Result<usize, BackendError> {
    match cursor {
        None | Some("") => Ok(0),
        Some(c) => c.parse::<usize>().map_err(|_| BackendError::InvalidCursor {
            backend: "redis",
            cursor: c.to_owned(),
        }),
    }
}

/// The envelope of a stored message, with the attempt count as the backend keeps it.
fn envelope(blob: Option<&str>, attempt: u32) -> Option<Envelope> {
    let header = codec::parse_message(blob?)?;
    let mut env: Envelope = serde_json::from_str(header.json).ok()?;
    env.attempt = attempt;
    Some(env)
}

fn count(v: Option<&Value>) -> usize {
    v.and_then(int)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

fn score(v: &Value) -> Option<u64> {
    match v {
        Value::Double(d) => Some(*d as u64),
        other => int(other)
            .and_then(|i| u64::try_from(i).ok())
            .or_else(|| text(other.clone())?.parse::<f64>().ok().map(|d| d as u64)),
    }
}

fn page<T>(items: Vec<T>, offset: usize, consumed: usize, total: usize) -> Page<T> {
    let end = offset + consumed;
    Page {
        next: (end < total && consumed > 0).then(|| end.to_string()),
        items,
        total: Some(total),
    }
}

impl Inner {
    pub(super) async fn queues(&self) -> Result<Vec<String>, BackendError> {
        let mut queues: Vec<String> = self
            .command(redis::cmd("SMEMBERS").arg(keys::queues_key(&self.prefix)))
            .await?;
        queues.retain(|q| q != keys::RESOLVED_QUEUE);
        queues.sort_unstable();
        Ok(queues)
    }

    pub(super) async fn list_tasks(
        &self,
        queue: &str,
        state: ListState,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        let from = offset(cursor)?;
        let k = self.keys(queue);
        match state {
            ListState::Ready => self.list_ready(&k, from, limit).await,
            ListState::Dead => self.list_dead(queue, &k, from, limit).await,
            ListState::Scheduled | ListState::Leased => {
                self.list_timed(&k, state, from, limit).await
            }
            _ => Ok(page(Vec::new(), from, 0, 0)),
        }
    }

    /// Ready ids: the lists r9 .. r0 one after the other.
    async fn list_ready(
        &self,
        k: &QueueKeys,
        from: usize,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        let mut pipe = redis::pipe();
        for p in (0..10u8).rev() {
            pipe.cmd("LLEN").arg(k.ready(p));
        }
        let lens: Vec<usize> = self.query(&pipe).await?;
        let total: usize = lens.iter().sum();
        let mut pipe = redis::pipe();
        let mut start = 0usize;
        let (mut want_from, mut want) = (from, limit);
        for (p, len) in (0..10u8).rev().zip(&lens) {
            let end = start + len;
            if want > 0 && want_from < end {
                let a = want_from - start;
                let b = (a + want).min(*len);
                pipe.cmd("LRANGE").arg(k.ready(p)).arg(a).arg(b - 1);
                want -= b - a;
                want_from = end;
            }
            start = end;
        }
        let ids: Vec<String> = if want == limit {
            Vec::new()
        } else {
            let lists: Vec<Vec<String>> = self.query(&pipe).await?;
            lists.into_iter().flatten().collect()
        };
        let consumed = ids.len();
        let items = self
            .summaries(k, ListState::Ready, &ids, &[], false)
            .await?;
        Ok(page(items, from, consumed, total))
    }

    /// Scheduled or leased ids: a sorted set by due time or lease deadline.
    async fn list_timed(
        &self,
        k: &QueueKeys,
        state: ListState,
        from: usize,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        let key = if state == ListState::Leased {
            k.lease()
        } else {
            k.delayed()
        };
        let mut pipe = redis::pipe();
        pipe.cmd("ZCARD").arg(&key);
        if limit > 0 {
            pipe.cmd("ZRANGE")
                .arg(&key)
                .arg(from)
                .arg(from + limit - 1)
                .arg("WITHSCORES");
        }
        let replies: Vec<Value> = self.query(&pipe).await?;
        let total = count(replies.first());
        let flat = match replies.into_iter().nth(1) {
            Some(Value::Array(flat)) => flat,
            _ => Vec::new(),
        };
        let mut ids = Vec::new();
        let mut times = Vec::new();
        let mut it = flat.into_iter();
        while let (Some(id), Some(at)) = (it.next(), it.next()) {
            let Some(id) = text(id) else { continue };
            ids.push(id);
            times.push(score(&at).map(Timestamp));
        }
        let consumed = ids.len();
        let items = self
            .summaries(k, state, &ids, &times, state == ListState::Leased)
            .await?;
        Ok(page(items, from, consumed, total))
    }

    /// Summaries of `ids` with their messages (`env`, then `denv`) and attempt counts.
    async fn summaries(
        &self,
        k: &QueueKeys,
        state: ListState,
        ids: &[String],
        times: &[Option<Timestamp>],
        leased: bool,
    ) -> Result<Vec<TaskSummary>, BackendError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET").arg(k.env()).arg(ids);
        pipe.cmd("HMGET").arg(k.denv()).arg(ids);
        pipe.cmd("HMGET").arg(k.attempt()).arg(ids);
        let (blobs, waiting, attempts): (Vec<Option<String>>, Vec<Option<String>>, Vec<Value>) =
            self.query(&pipe).await?;
        let holders = if leased {
            self.holders().await?
        } else {
            HashMap::new()
        };
        let mut out = Vec::with_capacity(ids.len());
        for (i, sid) in ids.iter().enumerate() {
            // An entry that is not an id is garbage the next fetch dead-letters: not listed.
            let Ok(id) = sid.parse::<TaskId>() else {
                continue;
            };
            let over = attempts
                .get(i)
                .and_then(int)
                .and_then(|a| u32::try_from(a).ok())
                .unwrap_or(0);
            let blob = blobs
                .get(i)
                .and_then(Option::as_deref)
                .or_else(|| waiting.get(i).and_then(Option::as_deref));
            let env = envelope(blob, over + u32::from(leased));
            let mut s = TaskSummary::new(state, id, env);
            let at = times.get(i).copied().flatten();
            match state {
                ListState::Scheduled => s.due_at = at,
                ListState::Leased => {
                    s.lease_deadline = at;
                    s.worker = holders.get(&id).map(|(w, _)| w.clone());
                }
                _ => {}
            }
            out.push(s);
        }
        Ok(out)
    }

    async fn list_dead(
        &self,
        queue: &str,
        k: &QueueKeys,
        from: usize,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        let mut pipe = redis::pipe();
        pipe.cmd("LLEN").arg(k.dead());
        if limit > 0 {
            pipe.cmd("LRANGE")
                .arg(k.dead())
                .arg(from)
                .arg(from + limit - 1);
        }
        let replies: Vec<Value> = self.query(&pipe).await?;
        let total = count(replies.first());
        let entries: Vec<String> = match replies.into_iter().nth(1) {
            Some(Value::Array(es)) => es.into_iter().filter_map(text).collect(),
            _ => Vec::new(),
        };
        let consumed = entries.len();
        let items = entries
            .iter()
            .map(|e| dead_summary(codec::parse_dead(queue, e)))
            .collect();
        Ok(page(items, from, consumed, total))
    }

    pub(super) async fn inspect(&self, id: TaskId) -> Result<Option<TaskDetail>, BackendError> {
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
            pipe.cmd("HGET").arg(k.denv()).arg(&sid);
            pipe.cmd("ZSCORE").arg(k.lease()).arg(&sid);
            pipe.cmd("ZSCORE").arg(k.delayed()).arg(&sid);
            pipe.cmd("HGET").arg(k.progress()).arg(&sid);
            pipe.cmd("HGET").arg(k.attempt()).arg(&sid);
            pipe.cmd("LLEN").arg(k.dead());
        }
        let flat: Vec<Value> = self.query(&pipe).await?;
        // A task's message wins over a stored result (a dead letter requeued, an id sent
        // again); of two queues, the first with anything.
        let mut finished = None;
        let mut dead_queues = Vec::new();
        for (queue, row) in queues.iter().zip(flat.chunks(8)) {
            let [result, blob, waiting, lease, delayed, progress, attempt, dead] = row else {
                continue;
            };
            let blob = text(blob.clone()).or_else(|| text(waiting.clone()));
            let progress = text(progress.clone()).and_then(|p| Payload::from_json(p).ok());
            if let Some(blob) = blob {
                let over = int(attempt)
                    .and_then(|a| u32::try_from(a).ok())
                    .unwrap_or(0);
                return self
                    .waiting_detail(id, queue, &blob, over, lease, delayed, progress)
                    .await
                    .map(Some);
            }
            if finished.is_none() {
                if let Some(stored) = live_result(result.clone()) {
                    finished = Some((queue, stored, progress));
                }
            }
            if count(Some(dead)) > 0 {
                dead_queues.push(queue);
            }
        }
        let mut detail = None;
        if let Some((queue, stored, progress)) = finished {
            let r = decode_result(&self.keys(queue).results(), &stored)?;
            let mut d = TaskDetail::new(id, r.outcome.state());
            d.queue = Some(queue.clone());
            d.task = r.task;
            d.attempt = r.attempt;
            d.outcome = Some(r.outcome);
            d.progress = r.progress.or(progress);
            d.started_at = r.started_at;
            d.finished_at = r.finished_at;
            d.dead_reason = r.dead_reason;
            d.args = r.args;
            if d.dead_reason.is_none() {
                return Ok(Some(d));
            }
            // Dead-lettered: the letter has the message.
            dead_queues = vec![queue];
            detail = Some(d);
        }
        for queue in dead_queues {
            if let Some(letter) = self.find_dead(queue, id).await? {
                let mut d = detail.unwrap_or_else(|| TaskDetail::new(id, TaskState::Failed));
                let attempt = d.attempt;
                if let Some(env) = letter.envelope {
                    d = d.with_envelope(env);
                }
                d.attempt = d.attempt.max(attempt);
                d.queue = Some(letter.queue);
                d.dead_reason = Some(letter.reason);
                d.finished_at = d.finished_at.or(Some(letter.at));
                return Ok(Some(d));
            }
        }
        Ok(detail)
    }

    /// The detail of a task whose message is in its queue: queued, scheduled or running.
    #[allow(clippy::too_many_arguments)]
    async fn waiting_detail(
        &self,
        id: TaskId,
        queue: &str,
        blob: &str,
        over: u32,
        lease: &Value,
        delayed: &Value,
        progress: Option<Payload>,
    ) -> Result<TaskDetail, BackendError> {
        let (lease, delayed) = (score(lease), score(delayed));
        let state = match (lease, delayed) {
            (Some(_), _) => TaskState::Running,
            (None, Some(_)) if over > 0 => TaskState::Retrying,
            (None, Some(_)) => TaskState::Scheduled,
            (None, None) => TaskState::Pending,
        };
        let attempt = over + u32::from(lease.is_some());
        let mut d = TaskDetail::new(id, state);
        match envelope(Some(blob), attempt) {
            Some(env) => d = d.with_envelope(env),
            None => d.queue = Some(queue.to_owned()),
        }
        d.attempt = attempt;
        d.progress = progress;
        d.due_at = delayed.map(Timestamp);
        if let Some(deadline) = lease {
            d.lease_deadline = Some(Timestamp(deadline));
            if let Some((worker, started)) = self.holders().await?.remove(&id) {
                d.worker = Some(worker);
                d.started_at = Some(started);
            }
        }
        Ok(d)
    }

    /// The dead letter of `id` in `queue`, searched among the newest [`DEAD_SEARCH`].
    async fn find_dead(&self, queue: &str, id: TaskId) -> Result<Option<DeadLetter>, BackendError> {
        let sid = id.to_string();
        let k = self.keys(queue);
        let mut end: i64 = -1;
        let page: i64 = 1_000;
        let mut searched = 0usize;
        while searched < DEAD_SEARCH {
            let entries: Vec<String> = self
                .command(
                    redis::cmd("LRANGE")
                        .arg(k.dead())
                        .arg(end - page + 1)
                        .arg(end),
                )
                .await?;
            for e in entries.iter().rev().filter(|e| e.contains(&sid)) {
                let letter = codec::parse_dead(queue, e);
                if letter.id == id {
                    return Ok(Some(letter));
                }
            }
            if entries.len() < usize::try_from(page).unwrap_or(0) {
                break;
            }
            searched += entries.len();
            end -= page;
        }
        Ok(None)
    }
}

fn dead_summary(letter: DeadLetter) -> TaskSummary {
    let mut s = TaskSummary::new(ListState::Dead, letter.id, letter.envelope);
    s.reason = Some(letter.reason);
    s.error = Some(match &letter.raw {
        Some(raw) => format!("{}: {raw}", letter.message),
        None => letter.message,
    });
    s.dead_at = Some(letter.at);
    s
}
