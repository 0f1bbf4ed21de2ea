//! The event log: appends go to the writer without being awaited (group-committed with the
//! transitions around them); a position is the row's sequence number, one sequence for the
//! whole file, so the events of several queues merge in order. Each queue keeps its newest
//! [`EVENTS_PER_QUEUE`]. Readers sleep until an append commits in this process, or another
//! process commits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::params;
use taskq::events::{Event, EventCursor, EventRead, StoredEvent};

use super::SqliteBackend;
use crate::error::StoreError;
use crate::queries::queries;

queries!("events.sql");

/// How many events each queue keeps.
pub const EVENTS_PER_QUEUE: i64 = 10_000;

/// How many appends go by between two trims of a queue's log.
const TRIM_EVERY: u64 = 1_000;

impl SqliteBackend {
    /// [`taskq::backend::Backend::append_event`].
    pub(crate) fn append_event_now(&self, event: Event, appended: &Arc<AtomicU64>) {
        let json = match serde_json::to_string(&event) {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "taskq-sqlite: an event does not encode; dropped");
                return;
            }
        };
        let trim = appended.fetch_add(1, Ordering::Relaxed) % TRIM_EVERY == TRIM_EVERY - 1;
        let queue = event.queue.to_string();
        let wake = Arc::clone(&self.db.wake);
        self.db.write_detached(
            move |c| {
                c.prepare_cached(SQL.get("append"))?
                    .execute(params![queue, json])?;
                if trim {
                    c.prepare_cached(SQL.get("trim"))?
                        .execute(params![queue, EVENTS_PER_QUEUE])?;
                }
                Ok(())
            },
            move || wake.events_appended(),
        );
    }

    fn read_events_once(
        &self,
        queues: &[String],
        after: &EventCursor,
        max: usize,
    ) -> impl std::future::Future<Output = Result<Vec<StoredEvent>, StoreError>> + '_ {
        let queues = queues.to_vec();
        let after = after.clone();
        async move {
            self.db
                .read(|c| {
                    let mut out: Vec<(i64, Event)> = Vec::new();
                    let mut st = c.prepare_cached(SQL.get("read"))?;
                    let lim = i64::try_from(max).unwrap_or(i64::MAX);
                    for q in &queues {
                        let from = after
                            .position(q)
                            .and_then(|p| p.parse::<i64>().ok())
                            .unwrap_or(0);
                        let rows = st.query_map(params![q, from, lim], |r| {
                            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                        })?;
                        for row in rows {
                            let (seq, json) = row?;
                            let event: Event = serde_json::from_str(&json)
                                .map_err(|e| StoreError::corrupt("events.event", e))?;
                            out.push((seq, event));
                        }
                    }
                    out.sort_unstable_by_key(|(s, _)| *s);
                    out.truncate(max);
                    Ok(out
                        .into_iter()
                        .map(|(seq, event)| StoredEvent {
                            position: seq.to_string(),
                            event,
                        })
                        .collect())
                })
                .await
        }
    }

    /// [`taskq::backend::Backend::read_events`]: after every append this process queued
    /// before the call (a barrier through the writer), waiting up to `read.wait` for one.
    pub(crate) async fn read_events_now(
        &self,
        read: EventRead<'_>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.db.write(|_| Ok(())).await?;
        let give_up = tokio::time::Instant::now() + read.wait;
        loop {
            let notified = self.db.wake.events().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self
                .read_events_once(read.queues, read.after, read.max)
                .await?;
            if !got.is_empty() || tokio::time::Instant::now() >= give_up {
                return Ok(got);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(give_up) => {}
            }
        }
    }

    /// [`taskq::backend::Backend::events_now`].
    pub(crate) async fn events_cursor_now(
        &self,
        queues: &[String],
    ) -> Result<EventCursor, StoreError> {
        self.db.write(|_| Ok(())).await?;
        let last: i64 = self
            .db
            .read(|c| {
                Ok(c.prepare_cached(SQL.get("last"))?
                    .query_row([], |r| r.get(0))?)
            })
            .await?;
        let mut cursor = EventCursor::default();
        for q in queues {
            cursor.set(q.clone(), last.to_string());
        }
        Ok(cursor)
    }
}
