//! Schedules on the memory backend: specs and states under the backend's one lock, so a claim
//! is atomic with the publish it makes.

use std::collections::BTreeMap;
use tokio::time::Instant;

use super::State;
use crate::message::{Envelope, TaskId};
use crate::schedule::{
    Overlap, ScheduleSpec, ScheduleState, SkipReason, StoredSchedule, TickClaim, TickOutcome,
};

/// Every schedule, by id.
#[derive(Default)]
pub(super) struct Schedules {
    by_id: BTreeMap<String, Entry>,
}

struct Entry {
    spec: ScheduleSpec,
    state: ScheduleState,
    /// The message of the kept tick ([`Overlap::BufferOne`]).
    buffered: Option<Envelope>,
}

impl Schedules {
    pub(super) fn put(&mut self, spec: &ScheduleSpec) -> bool {
        match self.by_id.get_mut(&spec.id) {
            Some(e) => {
                if e.spec != *spec {
                    e.spec = spec.clone();
                }
                false
            }
            None => {
                self.by_id.insert(
                    spec.id.clone(),
                    Entry {
                        spec: spec.clone(),
                        state: ScheduleState::default(),
                        buffered: None,
                    },
                );
                true
            }
        }
    }

    pub(super) fn list(&self) -> Vec<StoredSchedule> {
        self.by_id.values().map(Entry::stored).collect()
    }

    pub(super) fn get(&self, id: &str) -> Option<StoredSchedule> {
        self.by_id.get(id).map(Entry::stored)
    }

    pub(super) fn delete(&mut self, id: &str) -> bool {
        self.by_id.remove(id).is_some()
    }

    pub(super) fn set_paused(&mut self, id: &str, paused: bool) -> bool {
        match self.by_id.get_mut(id) {
            Some(e) => {
                e.state.paused = paused;
                true
            }
            None => false,
        }
    }
}

impl Entry {
    fn stored(&self) -> StoredSchedule {
        StoredSchedule {
            spec: self.spec.clone(),
            state: self.state.clone(),
        }
    }
}

/// Whether a task is still queued, delayed or running.
fn pending(st: &State, id: Option<TaskId>) -> bool {
    id.is_some_and(|id| st.tasks.contains_key(&id))
}

fn send(st: &mut State, env: Envelope, now: Instant) -> TaskId {
    let id = env.id;
    if !st.tasks.contains_key(&id) {
        st.insert(env, now);
    }
    id
}

/// [`Backend::claim_tick`](crate::backend::Backend::claim_tick) under the lock. Returns the
/// outcome and whether something was published (to wake fetchers).
pub(super) fn claim(st: &mut State, claim: &TickClaim, now: Instant) -> (TickOutcome, bool) {
    release(st, &claim.schedule, now);
    let Some(entry) = st.schedules.by_id.get(&claim.schedule) else {
        return (TickOutcome::NotFound, false);
    };
    if entry
        .state
        .last_tick
        .is_some_and(|last| last >= claim.nominal)
    {
        return (TickOutcome::AlreadyClaimed, false);
    }
    let paused = entry.state.paused;
    let busy = pending(st, entry.state.last_task);
    let has_buffer = entry.buffered.is_some();
    let decision = if paused {
        Err(SkipReason::Paused)
    } else if !busy {
        Ok(false)
    } else {
        match claim.overlap {
            Overlap::Allow => Ok(false),
            Overlap::Skip => Err(SkipReason::Overlap),
            Overlap::BufferOne if has_buffer => Err(SkipReason::BufferFull),
            Overlap::BufferOne => Ok(true),
        }
    };
    let sent = match decision {
        Ok(false) => Some(send(st, claim.envelope.clone(), now)),
        _ => None,
    };
    let Some(entry) = st.schedules.by_id.get_mut(&claim.schedule) else {
        return (TickOutcome::NotFound, false);
    };
    let state = &mut entry.state;
    state.last_tick = Some(claim.nominal);
    state.record_skip(claim.nominal, SkipReason::Catchup, claim.missed);
    let outcome = match (decision, sent) {
        (Ok(false), Some(id)) => {
            state.last_task = Some(id);
            state.runs += 1;
            TickOutcome::Enqueued(id)
        }
        (Ok(_), _) => {
            state.buffered = Some(claim.nominal);
            entry.buffered = Some(claim.envelope.clone());
            TickOutcome::Buffered
        }
        (Err(reason), _) => {
            state.record_skip(claim.nominal, reason, 1);
            TickOutcome::Skipped(reason)
        }
    };
    (outcome, sent.is_some())
}

/// [`Backend::release_buffered`](crate::backend::Backend::release_buffered) under the lock.
pub(super) fn release(st: &mut State, id: &str, now: Instant) -> Option<TaskId> {
    let entry = st.schedules.by_id.get(id)?;
    entry.buffered.as_ref()?;
    if pending(st, entry.state.last_task) {
        return None;
    }
    let entry = st.schedules.by_id.get_mut(id)?;
    let env = entry.buffered.take()?;
    entry.state.buffered = None;
    let sent = send(st, env, now);
    if let Some(entry) = st.schedules.by_id.get_mut(id) {
        entry.state.last_task = Some(sent);
        entry.state.runs += 1;
    }
    Some(sent)
}
