//! Listing a queue's messages by state, and one task's full record, from the in-memory state.
//!
//! Pages are offsets into the listing's order (a cursor is the offset as text): simple, and
//! exact while the queue does not change between pages; a page after a change may repeat or
//! skip an item at its edge, as any offset pager does.

use std::cmp::Reverse;

use tokio::time::Instant;

use super::{timestamp_of, State, Status};
use crate::backend::{ListState, Page, TaskDetail, TaskSummary};
use crate::error::BackendError;
use crate::message::TaskId;
use crate::state::TaskState;

/// The offset a cursor names (`None`: the first page).
pub(super) fn offset(cursor: Option<&str>) -> Result<usize, BackendError> {
    match cursor {
        None | Some("") => Ok(0),
        Some(c) => c.parse::<usize>().map_err(|_| BackendError::InvalidCursor {
            backend: "memory",
            cursor: c.to_owned(),
        }),
    }
}

impl State {
    /// The worker whose heartbeat says it runs `id`.
    fn worker_of(&self, id: TaskId) -> Option<String> {
        self.workers
            .values()
            .find(|(w, _)| w.running.iter().any(|r| r.id == id))
            .map(|(w, _)| w.id.clone())
    }

    pub(super) fn list(
        &self,
        queue: &str,
        state: ListState,
        offset: usize,
        limit: usize,
        now: Instant,
    ) -> Page<TaskSummary> {
        let mut all: Vec<TaskSummary> = match state {
            ListState::Dead => self
                .dead
                .get(queue)
                .map(|d| {
                    d.iter()
                        .map(|letter| {
                            let mut s = TaskSummary::new(
                                ListState::Dead,
                                letter.id,
                                letter.envelope.clone(),
                            );
                            s.reason = Some(letter.reason);
                            s.error = Some(match &letter.raw {
                                Some(raw) => format!("{}: {raw}", letter.message),
                                None => letter.message.clone(),
                            });
                            s.dead_at = Some(letter.at);
                            s
                        })
                        .collect()
                })
                .unwrap_or_default(),
            _ => {
                let mut rows: Vec<(u128, TaskSummary)> = self
                    .tasks
                    .iter()
                    .filter(|(_, slot)| slot.env.queue == queue)
                    .filter_map(|(id, slot)| {
                        let mut s = TaskSummary::new(state, *id, Some(slot.env.clone()));
                        let key = match (state, slot.status) {
                            (ListState::Ready, Status::Ready) => {
                                // Highest priority first, then oldest.
                                let p = u128::from(9 - slot.env.priority.min(9));
                                (p << 64) | u128::from(slot.seq)
                            }
                            (ListState::Scheduled, Status::Delayed) => {
                                let due = slot.due.unwrap_or(now);
                                s.due_at = Some(timestamp_of(due, now));
                                u128::from(s.due_at.map_or(0, |t| t.0))
                            }
                            (ListState::Leased, Status::Leased { deadline, .. }) => {
                                s.lease_deadline = Some(timestamp_of(deadline, now));
                                s.worker = self.worker_of(*id);
                                u128::from(s.lease_deadline.map_or(0, |t| t.0))
                            }
                            _ => return None,
                        };
                        Some((key, s))
                    })
                    .collect();
                rows.sort_by_key(|(k, s)| (*k, Reverse(s.id)));
                rows.into_iter().map(|(_, s)| s).collect()
            }
        };
        let total = all.len();
        let items: Vec<TaskSummary> = all.drain(offset.min(total)..).take(limit).collect();
        let end = offset + items.len();
        Page {
            next: (end < total && !items.is_empty()).then(|| end.to_string()),
            items,
            total: Some(total),
        }
    }

    pub(super) fn detail(&self, id: TaskId, now: Instant) -> Option<TaskDetail> {
        if let Some(slot) = self.tasks.get(&id) {
            let state = match slot.status {
                Status::Ready => TaskState::Pending,
                Status::Delayed if slot.env.attempt > 0 => TaskState::Retrying,
                Status::Delayed => TaskState::Scheduled,
                Status::Leased { .. } => TaskState::Running,
            };
            let mut d = TaskDetail::new(id, state).with_envelope(slot.env.clone());
            d.progress = slot.progress.clone();
            d.started_at = slot.leased_at.map(|t| timestamp_of(t, now));
            d.due_at = slot.due.map(|t| timestamp_of(t, now));
            if let Status::Leased { deadline, .. } = slot.status {
                d.lease_deadline = Some(timestamp_of(deadline, now));
                d.worker = self.worker_of(id);
            }
            return Some(d);
        }
        let stored = self.live_result(&id, now);
        let letter = self.dead.values().flatten().find(|d| d.id == id);
        if stored.is_none() && letter.is_none() {
            return None;
        }
        let mut d = TaskDetail::new(id, TaskState::Failed);
        if let Some(letter) = letter {
            if let Some(env) = &letter.envelope {
                d = d.with_envelope(env.clone());
            }
            d.queue = Some(letter.queue.clone());
            d.dead_reason = Some(letter.reason);
            d.finished_at = Some(letter.at);
        }
        if let Some(r) = stored {
            d.state = r.outcome.state();
            d.outcome = Some(r.outcome.clone());
            d.progress = r.progress.clone();
            let about = &r.about;
            if d.task.is_none() {
                d.task = about.task.as_ref().map(|t| t.to_string());
            }
            if d.queue.is_none() {
                d.queue = about.queue.clone();
            }
            d.attempt = d.attempt.max(about.attempt);
            d.created_at = d.created_at.or(about.created_at);
            d.started_at = about.started_at;
            d.finished_at = d.finished_at.or(about.finished_at);
            if d.args.is_none() {
                d.args = about.args.clone();
            }
        }
        Some(d)
    }
}
