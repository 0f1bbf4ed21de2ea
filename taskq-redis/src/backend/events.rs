//! The event log: a capped stream per queue (`{prefix:queue}:events`), written with no round
//! trip of its own.
//!
//! ```text
//!  append_event ──► buffer (per queue, in order) ──► taken by the next write to that queue:
//!                        │                             publish's MULTI (XADD with the message)
//!                        │                             publish_once / complete / complete_fast /
//!                        │                             retry / dead_letter: XADD, then the
//!                        │                             script, in one pipeline
//!                        └── nothing written within 5 ms: a flush task writes them alone
//!
//!  one stream entry per write and queue (up to 128 events, a line each, field `c`: see
//!  `event_lines.rs`), XADD .. MAXLEN ~ 10,000 entries; an event's position is
//!  `<entry id>.<line>`
//!
//!  read_events: XRANGE from each cursor's entry (lines up to its own skipped), then, if
//!  nothing came, XREAD BLOCK on a dedicated connection: woken by the XADD itself
//! ```
//!
//! An entry per write rather than per event: an `XADD` costs the server about what five `SET`s
//! do, so one per event would cost more than the rest of the task (see `tests/cost.rs`). The
//! `XADD`s go in the write's pipeline ahead of its script rather than into the script: an
//! argument handed to Lua costs the server some 1.3 µs per KB on its way in and again on its
//! way out to the `XADD`, more than the `XADD` itself.
//!
//! Order: a buffer is taken and its write handed to the shared connection in one step under a
//! lock (`Gated`), and the connection keeps the order of what it is handed, so events of one
//! process reach their stream in the order they were recorded. An enqueue is recorded before its publish and
//! written with it (or before), so no other process can start the task before its `enqueued`
//! is in the log. A write retried after a connection loss may reorder or repeat the events it
//! carried.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use redis::{FromRedisValue, ScriptInvocation, Value};
use taskq::events::{Event, EventCursor, EventRead, StoredEvent};
use taskq::BackendError;

use super::event_lines::{self, EncodeError, LineState, ReadState};
use super::values::{ms, text};
use super::{lock, Inner};
use crate::conn::{self, command_error};
use crate::keys::QueueKeys;

/// Events per stream entry at most (a write carrying more adds several entries).
const PER_ENTRY: usize = 128;

/// Bytes reserved for an entry's text (about 60 events: a full one grows once).
const ENTRY_BYTES: usize = 4096;

/// How long an event waits for a write to ride with before a flush writes it alone.
const LINGER: Duration = Duration::from_millis(5);

/// Events kept in memory at most while they cannot be written (Redis down): the oldest go.
const MAX_BUFFERED: usize = 100_000;

/// Idle connections kept for blocking reads.
const READERS_KEPT: usize = 4;

/// Events waiting for a write, per queue, in the order they were recorded.
#[derive(Default)]
pub(super) struct EventBuffer {
    by_queue: HashMap<String, QueueEvents>,
    count: usize,
    flush_scheduled: bool,
    dropped: u64,
    /// When the buffer last went from empty to not: the flush waits until [`LINGER`] after
    /// it, so a flush only writes what no write took in time.
    since: Option<Instant>,
}

/// One queue's waiting events, already as the stream entries they will be: each up to
/// [`PER_ENTRY`] events, a line each, encoded straight into the entry (no string per event, no
/// join).
#[derive(Default)]
struct QueueEvents {
    entries: VecDeque<Pending>,
    count: usize,
}

/// An entry being filled: its text, how many events it holds, and what its next line is
/// written against.
struct Pending {
    text: Vec<u8>,
    n: usize,
    state: LineState,
}

impl QueueEvents {
    fn push(&mut self, event: &Event) -> Result<(), EncodeError> {
        if self.entries.back().is_none_or(|p| p.n >= PER_ENTRY) {
            self.entries.push_back(Pending {
                text: Vec::with_capacity(ENTRY_BYTES),
                n: 0,
                state: LineState::default(),
            });
        }
        let Some(p) = self.entries.back_mut() else {
            return Ok(());
        };
        let mark = p.text.len();
        if p.n > 0 {
            p.text.push(b'\n');
        }
        if let Err(e) = event_lines::push_line(&mut p.text, &mut p.state, event) {
            p.text.truncate(mark);
            return Err(e);
        }
        p.n += 1;
        self.count += 1;
        Ok(())
    }

    /// Drops the oldest entry; how many events went with it.
    fn drop_oldest(&mut self) -> usize {
        let n = self.entries.pop_front().map_or(0, |p| p.n);
        self.count -= n;
        n
    }

    fn into_entries(self) -> Entries {
        Entries(self.entries.into_iter().map(|p| p.text).collect())
    }
}

/// The stream entries one write adds for one queue.
pub(super) struct Entries(Vec<Vec<u8>>);

/// A position: the entry's stream id, and the line within the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    ms: u64,
    seq: u64,
    line: u32,
}

impl Position {
    /// Before everything.
    const START: Position = Position {
        ms: 0,
        seq: 0,
        line: 0,
    };

    fn parse(s: &str) -> Option<Self> {
        let (id, line) = s.split_once('.')?;
        let (ms, seq) = parse_id(id)?;
        Some(Self {
            ms,
            seq,
            line: line.parse().ok()?,
        })
    }

    fn id(&self) -> String {
        format!("{}-{}", self.ms, self.seq)
    }

    fn text(&self) -> String {
        format!("{}-{}.{}", self.ms, self.seq, self.line)
    }
}

fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Where a cursor stands in `queue` (a position that does not parse reads from the start).
fn position_of(cursor: &EventCursor, queue: &str) -> Option<Position> {
    cursor.position(queue).and_then(Position::parse)
}

impl Inner {
    /// Buffers an event for the next write to its queue, and makes sure a flush follows if
    /// none comes.
    pub(super) fn append_event(self: &Arc<Self>, event: Event) {
        let spawn_flush = {
            let mut buf = lock(&self.events);
            if buf.count == 0 {
                buf.since = Some(Instant::now());
            }
            let q = match buf.by_queue.get_mut(event.queue.as_ref()) {
                Some(q) => q,
                None => buf.by_queue.entry(event.queue.to_string()).or_default(),
            };
            if let Err(e) = q.push(&event) {
                tracing::debug!(error = %e, "an event does not encode; dropped");
                return;
            }
            let mut dropped = 0;
            if q.count > MAX_BUFFERED {
                dropped = q.drop_oldest();
            }
            buf.count = buf.count + 1 - dropped;
            if dropped > 0 {
                let before = buf.dropped;
                buf.dropped += dropped as u64;
                if before == 0 || buf.dropped / 10_000 != before / 10_000 {
                    tracing::warn!(
                        dropped = buf.dropped,
                        "events cannot be written (is Redis down?); dropping the oldest"
                    );
                }
            }
            self.buffered.store(buf.count, Ordering::Relaxed);
            !std::mem::replace(&mut buf.flush_scheduled, true)
        };
        if spawn_flush {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    let inner = self.clone();
                    rt.spawn(async move {
                        let mut wait = LINGER;
                        // Until LINGER has passed since the oldest event no write took.
                        loop {
                            tokio::time::sleep(wait).await;
                            let mut buf = lock(&inner.events);
                            let due = buf.since.map(|t| t + LINGER);
                            match due.map(|d| d.saturating_duration_since(Instant::now())) {
                                Some(left) if !left.is_zero() => wait = left,
                                _ => {
                                    buf.flush_scheduled = false;
                                    break;
                                }
                            }
                        }
                        inner.flush_events().await;
                    });
                }
                // Outside a runtime: the next write takes them.
                Err(_) => lock(&self.events).flush_scheduled = false,
            }
        }
    }

    /// Takes `queue`'s buffered events, as stream entries.
    fn take_events(&self, queue: &str) -> Entries {
        if self.buffered.load(Ordering::Relaxed) == 0 {
            return Entries(Vec::new());
        }
        let mut buf = lock(&self.events);
        // The queue's slot stays (no key to allocate again at its next event).
        let events = match buf.by_queue.get_mut(queue) {
            Some(q) if q.count > 0 => std::mem::take(q),
            _ => return Entries(Vec::new()),
        };
        buf.count -= events.count.min(buf.count);
        if buf.count == 0 {
            buf.since = None;
        }
        self.buffered.store(buf.count, Ordering::Relaxed);
        drop(buf);
        events.into_entries()
    }

    /// Runs `inv` with `queue`'s buffered events written just before it, in the same pipeline
    /// (one round trip). A script not loaded yet is loaded and run alone after the events.
    pub(super) async fn eval_with_events<T: FromRedisValue>(
        &self,
        inv: ScriptInvocation<'_>,
        k: &QueueKeys,
        queue: &str,
        carry: Carry,
    ) -> Result<T, BackendError> {
        Gated::new(&self.send_gate, carry, move |gated| async move {
            let entries = if gated {
                self.take_events(queue)
            } else {
                Entries(Vec::new())
            };
            if entries.0.is_empty() {
                return self.eval::<T>(&inv).await;
            }
            let mut pipe = redis::pipe();
            // Every reply comes back, errors included: an `XADD` refused loses its events, not
            // the transition.
            pipe.ignore_errors();
            self.xadd(&mut pipe, k, &entries, false);
            pipe.invoke_script(&inv);
            let (pipe, inv) = (&pipe, &inv);
            self.shared
                .run(move |mut c| async move {
                    let mut replies: Vec<Value> = pipe.query_async(&mut c).await?;
                    let reply = replies.pop().unwrap_or(Value::Nil);
                    for r in &replies {
                        if let Value::ServerError(e) = r {
                            tracing::warn!(error = ?e, "could not write events; they are lost");
                        }
                    }
                    match reply {
                        Value::ServerError(e)
                            if e.kind() == Some(redis::ServerErrorKind::NoScript) =>
                        {
                            inv.invoke_async(&mut c).await
                        }
                        v => Ok(T::from_redis_value(v.extract_error()?)?),
                    }
                })
                .await
        })
        .await
    }

    /// Runs `pipe` with the buffered events of `queues` added to it.
    pub(super) async fn query_with_events<T: FromRedisValue>(
        &self,
        mut pipe: redis::Pipeline,
        queues: &[&str],
    ) -> Result<T, BackendError> {
        Gated::new(&self.send_gate, Carry::Wait, move |_| async move {
            for q in queues {
                let entries = self.take_events(q);
                self.xadd(&mut pipe, &self.keys(q), &entries, true);
            }
            self.query::<T>(&pipe).await
        })
        .await
    }

    /// Adds an `XADD` per entry to `pipe`; their replies (the entries' ids) are ignored if
    /// `ignore`.
    fn xadd(&self, pipe: &mut redis::Pipeline, k: &QueueKeys, entries: &Entries, ignore: bool) {
        for e in &entries.0 {
            pipe.cmd("XADD")
                .arg(k.events())
                .arg("MAXLEN")
                .arg("~")
                .arg(self.event_cap)
                .arg("*")
                .arg(event_lines::FIELD)
                .arg(&e[..]);
            if ignore {
                pipe.ignore();
            }
        }
    }

    /// Writes every buffered event now, alone.
    pub(super) async fn flush_events(&self) {
        if self.buffered.load(Ordering::Relaxed) == 0 {
            return;
        }
        let written = Gated::new(&self.send_gate, Carry::Wait, |_| async {
            let all: Vec<(String, QueueEvents)> = {
                let mut buf = lock(&self.events);
                buf.count = 0;
                buf.since = None;
                self.buffered.store(0, Ordering::Relaxed);
                buf.by_queue
                    .iter_mut()
                    .filter(|(_, q)| q.count > 0)
                    .map(|(name, q)| (name.clone(), std::mem::take(q)))
                    .collect()
            };
            if all.is_empty() {
                return Ok(());
            }
            let mut pipe = redis::pipe();
            for (queue, events) in all {
                let k = self.keys(&queue);
                self.xadd(&mut pipe, &k, &events.into_entries(), true);
            }
            self.query::<()>(&pipe).await
        })
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not write buffered events; they are lost");
        }
    }

    pub(super) async fn read_events(
        &self,
        read: EventRead<'_>,
    ) -> Result<Vec<StoredEvent>, BackendError> {
        if read.max == 0 || read.queues.is_empty() {
            return Ok(Vec::new());
        }
        // What is there already, from each cursor's entry on.
        let mut pipe = redis::pipe();
        for q in read.queues {
            let from = position_of(read.after, q).map_or_else(|| "-".to_owned(), |p| p.id());
            pipe.cmd("XRANGE")
                .arg(self.keys(q).events())
                .arg(from)
                .arg("+")
                .arg("COUNT")
                .arg(read.max + 1);
        }
        let replies: Vec<Value> = self.query(&pipe).await?;
        let mut got = Vec::new();
        for (q, reply) in read.queues.iter().zip(replies) {
            collect(q, reply, position_of(read.after, q), &mut got);
        }
        if got.is_empty() && !read.wait.is_zero() {
            self.wait_events(read, &mut got).await?;
        }
        got.sort_by_key(|(p, _)| *p);
        got.truncate(read.max);
        Ok(got.into_iter().map(|(_, e)| e).collect())
    }

    /// Blocks for up to `read.wait` for entries after the cursor's (`XREAD BLOCK` returns
    /// entries newer than the ids it is given, so one added since the `XRANGE` is not missed).
    async fn wait_events(
        &self,
        read: EventRead<'_>,
        got: &mut Vec<(Position, StoredEvent)>,
    ) -> Result<(), BackendError> {
        let idle = lock(&self.event_readers).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => conn::blocking_connection(&self.client)
                .await
                .map_err(command_error)?,
        };
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(read.max)
            .arg("BLOCK")
            .arg(ms(read.wait).max(1))
            .arg("STREAMS");
        for q in read.queues {
            cmd.arg(self.keys(q).events());
        }
        for q in read.queues {
            cmd.arg(position_of(read.after, q).unwrap_or(Position::START).id());
        }
        // A read given up on (or dropped) takes its connection with it: a blocked XREAD left
        // on it would hold up the next one.
        let reply = tokio::time::timeout(
            read.wait + Duration::from_secs(2),
            cmd.query_async::<Value>(&mut conn),
        )
        .await;
        let reply = match reply {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(command_error(e)),
            Err(_) => return Ok(()),
        };
        {
            let mut idle = lock(&self.event_readers);
            if idle.len() < READERS_KEPT {
                idle.push(conn);
            }
        }
        // [[key, [[id, [field, value]], ..]], ..] (RESP2), or a map of key to entries (RESP3).
        let streams: Vec<(Value, Value)> = match reply {
            Value::Array(streams) => streams
                .into_iter()
                .filter_map(|s| match s {
                    Value::Array(mut kv) if kv.len() == 2 => {
                        let entries = kv.pop()?;
                        Some((kv.pop()?, entries))
                    }
                    _ => None,
                })
                .collect(),
            Value::Map(streams) => streams,
            _ => Vec::new(),
        };
        for (key, entries) in streams {
            let Some(key) = text(key) else { continue };
            let Some(q) = read.queues.iter().find(|q| self.keys(q).events() == key) else {
                continue;
            };
            collect(q, entries, position_of(read.after, q), got);
        }
        Ok(())
    }

    pub(super) async fn events_now(&self, queues: &[String]) -> Result<EventCursor, BackendError> {
        let mut pipe = redis::pipe();
        for q in queues {
            pipe.cmd("XREVRANGE")
                .arg(self.keys(q).events())
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1);
        }
        let replies: Vec<Value> = if queues.is_empty() {
            Vec::new()
        } else {
            self.query(&pipe).await?
        };
        let mut cursor = EventCursor::default();
        for (q, reply) in queues.iter().zip(replies) {
            let mut last = Vec::new();
            collect(q, reply, None, &mut last);
            let at = last.last().map_or(Position::START, |(p, _)| *p);
            cursor.set(q.clone(), at.text());
        }
        Ok(cursor)
    }
}

/// Adds the events of `entries` (an `XRANGE` reply) after `after` to `out`.
fn collect(
    queue: &str,
    entries: Value,
    after: Option<Position>,
    out: &mut Vec<(Position, StoredEvent)>,
) {
    let Value::Array(entries) = entries else {
        return;
    };
    for entry in entries {
        let Value::Array(mut parts) = entry else {
            continue;
        };
        if parts.len() != 2 {
            continue;
        }
        let fields = parts.pop();
        let Some((ms, seq)) = parts.pop().and_then(text).as_deref().and_then(parse_id) else {
            continue;
        };
        // The field and its text: `c` (this encoding), or `e` (one JSON object a line).
        let field = match fields {
            Some(Value::Array(f)) => f.chunks(2).find_map(|kv| match kv {
                [k, v] => Some((text(k.clone())?, v.clone())),
                _ => None,
            }),
            Some(Value::Map(f)) => f.into_iter().find_map(|(k, v)| Some((text(k)?, v))),
            _ => None,
        };
        let Some((name, lines)) = field else { continue };
        let compact = name == event_lines::FIELD;
        if !compact && name != event_lines::JSON_FIELD {
            continue;
        }
        let Some(lines) = text(lines) else { continue };
        let mut state = ReadState::default();
        for (i, line) in lines.split('\n').enumerate() {
            let position = Position {
                ms,
                seq,
                line: u32::try_from(i).unwrap_or(u32::MAX),
            };
            // Each line of an entry reads against the ones before it: read them all.
            let event = if compact {
                event_lines::read_line(line, queue, &mut state).map_err(|e| e.to_string())
            } else if after.is_some_and(|a| position <= a) {
                continue;
            } else {
                serde_json::from_str::<Event>(line).map_err(|e| e.to_string())
            };
            if after.is_some_and(|a| position <= a) {
                continue;
            }
            match event {
                Ok(event) => out.push((
                    position,
                    StoredEvent {
                        position: position.text(),
                        event,
                    },
                )),
                Err(e) => {
                    tracing::debug!(%queue, error = %e, "an event in the log does not decode; skipped")
                }
            }
        }
    }
}

/// Whether a write waits for its turn to carry events.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Carry {
    /// Always: the write must not go before the events recorded ahead of it (a publish after
    /// its enqueues, a retry after its `retried`).
    Wait,
    /// Only if nobody else is taking events now; otherwise it goes without them and they wait
    /// for the next write (a completion: nothing follows it that could overtake its events).
    IfFree,
}

/// A write whose first poll runs with `gate` locked. The first poll takes the buffered events
/// and hands the request to the shared connection (which keeps the order of what it is handed),
/// so writes that carry events reach Redis in the order they took them, even from different
/// threads. Later polls only wait for the reply. `make` is told whether it holds the gate (it
/// takes no events if not).
struct Gated<'g, M, F> {
    gate: &'g Mutex<()>,
    carry: Carry,
    make: Option<M>,
    inner: Option<Pin<Box<F>>>,
}

impl<'g, M: FnOnce(bool) -> F, F: Future> Gated<'g, M, F> {
    fn new(gate: &'g Mutex<()>, carry: Carry, make: M) -> Self {
        Self {
            gate,
            carry,
            make: Some(make),
            inner: None,
        }
    }
}

impl<M: FnOnce(bool) -> F + Unpin, F: Future> Future for Gated<'_, M, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if let Some(make) = this.make.take() {
            let order = match this.carry {
                Carry::Wait => Some(lock(this.gate)),
                Carry::IfFree => match this.gate.try_lock() {
                    Ok(g) => Some(g),
                    Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
                    Err(std::sync::TryLockError::WouldBlock) => None,
                },
            };
            let mut inner = Box::pin(make(order.is_some()));
            let polled = inner.as_mut().poll(cx);
            drop(order);
            this.inner = Some(inner);
            return polled;
        }
        match this.inner.as_mut() {
            Some(inner) => inner.as_mut().poll(cx),
            // Polled again after it finished.
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_entry_then_line() {
        let a = Position::parse("5-0.3").expect("a");
        let b = Position::parse("5-1.0").expect("b");
        let c = Position::parse("6-0.0").expect("c");
        assert!(a < b && b < c);
        assert_eq!(Position::parse(&a.text()), Some(a));
        assert_eq!(Position::parse("junk"), None);
    }

    #[test]
    fn entries_hold_a_bounded_number_of_events_a_line_each() {
        let mut q = QueueEvents::default();
        let id = taskq::TaskId::new();
        for _ in 0..300 {
            let e = Event::new(taskq::events::EventKind::Started, id, "t", "q");
            q.push(&e).expect("encode");
        }
        assert_eq!(q.count, 300);
        let lines = |e: &[u8]| std::str::from_utf8(e).expect("utf-8").lines().count();
        let entries = q.into_entries().0;
        assert_eq!(entries.len(), 3);
        assert_eq!(lines(&entries[0]), PER_ENTRY);
        assert_eq!(lines(&entries[2]), 300 - 2 * PER_ENTRY);
        let mut state = ReadState::default();
        for line in std::str::from_utf8(&entries[1]).expect("utf-8").lines() {
            let back = event_lines::read_line(line, "q", &mut state).expect("an event a line");
            assert_eq!(back.id, id);
        }
    }
}
