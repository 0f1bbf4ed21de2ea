//! The in-memory event log: per queue, the last [`EVENTS_PER_QUEUE`] events, each numbered by
//! one sequence for the whole backend (its position). Readers sleep on a notification that
//! appends wake only while someone sleeps.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::events::{Event, EventCursor, StoredEvent};

/// How many events each queue keeps.
pub(super) const EVENTS_PER_QUEUE: usize = 10_000;

#[derive(Default)]
pub(super) struct EventLog {
    inner: Mutex<Log>,
    appended: Notify,
    readers: AtomicUsize,
}

#[derive(Default)]
struct Log {
    seq: u64,
    queues: HashMap<String, VecDeque<(u64, Event)>>,
}

impl EventLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn append(&self, event: Event) {
        {
            let mut log = self.lock();
            log.seq += 1;
            let seq = log.seq;
            let q = match log.queues.get_mut(event.queue.as_ref()) {
                Some(q) => q,
                None => log.queues.entry(event.queue.to_string()).or_default(),
            };
            if q.len() >= EVENTS_PER_QUEUE {
                q.pop_front();
            }
            q.push_back((seq, event));
        }
        if self.readers.load(Ordering::SeqCst) > 0 {
            self.appended.notify_waiters();
        }
    }

    /// Events of `queues` after `after`, at most `max`, in sequence order.
    pub(super) fn read(
        &self,
        queues: &[String],
        after: &EventCursor,
        max: usize,
    ) -> Vec<StoredEvent> {
        let log = self.lock();
        let mut out: Vec<(u64, &Event)> = Vec::new();
        for q in queues {
            let Some(events) = log.queues.get(q) else {
                continue;
            };
            let from = after
                .position(q)
                .and_then(|p| p.parse::<u64>().ok())
                .unwrap_or(0);
            // Sequence numbers increase along the deque: skip to the first one after `from`.
            let start = events.partition_point(|(seq, _)| *seq <= from);
            out.extend(events.range(start..).take(max).map(|(s, e)| (*s, e)));
        }
        out.sort_unstable_by_key(|(s, _)| *s);
        out.truncate(max);
        out.into_iter()
            .map(|(seq, e)| StoredEvent {
                position: seq.to_string(),
                event: e.clone(),
            })
            .collect()
    }

    /// A cursor at the current end of `queues`.
    pub(super) fn now(&self, queues: &[String]) -> EventCursor {
        let log = self.lock();
        let mut c = EventCursor::default();
        for q in queues {
            c.set(q.clone(), log.seq.to_string());
        }
        c
    }

    /// Waits for the next append (armed before the caller looks again, so none is missed).
    pub(super) async fn read_waiting(
        &self,
        queues: &[String],
        after: &EventCursor,
        max: usize,
        wait: std::time::Duration,
    ) -> Vec<StoredEvent> {
        let give_up = tokio::time::Instant::now() + wait;
        self.readers.fetch_add(1, Ordering::SeqCst);
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(&self.readers);
        loop {
            let notified = self.appended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self.read(queues, after, max);
            if !got.is_empty() || tokio::time::Instant::now() >= give_up {
                return got;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(give_up) => {}
            }
        }
    }
}
