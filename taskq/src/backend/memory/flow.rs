//! Rate and concurrency limits of the in-memory backend (see [`crate::flow`]), decided under
//! the backend's lock in the fetch, as the Redis fetch script decides them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::flow::Gate;
use crate::message::{IdMap, TaskId};

/// A limit's identity: its queue and key.
type Key = (String, String);

/// The limits' state.
#[derive(Default)]
pub(super) struct Flow {
    /// Rate limits: each key's theoretical arrival time (GCRA).
    tat: HashMap<Key, Instant>,
    /// Concurrency limits: the leased tasks holding a permit of each key.
    holders: HashMap<Key, HashSet<TaskId>>,
    /// Concurrency limits: the tasks waiting for a permit of each key, oldest first.
    waiting: HashMap<Key, VecDeque<TaskId>>,
    /// The permit each holder holds.
    held_by: IdMap<Key>,
    /// A waiter went back to ready since the last look: fetchers should be woken.
    woke: bool,
}

/// What the fetch does with a candidate.
pub(super) enum Admission {
    /// Lease it.
    Go,
    /// Over its rate: back to the delayed set until then.
    Later(Instant),
    /// Over its concurrency: it waits in its key's list (it is there already).
    Wait,
}

impl Flow {
    /// Decides on `id` of `queue` with `gate`, taking its permit and its rate slot when it may
    /// go. Concurrency is checked first, so a task that must wait uses no rate slot.
    pub(super) fn admit(
        &mut self,
        queue: &str,
        id: TaskId,
        gate: &Gate,
        now: Instant,
    ) -> Admission {
        let permit = gate
            .concurrency
            .as_ref()
            .map(|c| ((queue.to_owned(), c.key.clone()), c.max));
        if let Some((key, max)) = &permit {
            let held = self.holders.get(key).map_or(0, HashSet::len);
            if held >= usize::try_from(*max).unwrap_or(usize::MAX) {
                self.waiting.entry(key.clone()).or_default().push_back(id);
                return Admission::Wait;
            }
        }
        if let Some(rate) = &gate.rate {
            let key = (queue.to_owned(), rate.key.clone());
            let tat = self.tat.get(&key).copied().unwrap_or(now).max(now);
            let tau = burst_tolerance(rate.interval_us);
            if tat > now + tau {
                return Admission::Later(tat - tau);
            }
            self.tat
                .insert(key, tat + Duration::from_micros(rate.interval_us));
        }
        if let Some((key, _)) = permit {
            self.holders.entry(key.clone()).or_default().insert(id);
            self.held_by.insert(id, key);
        }
        Admission::Go
    }

    /// `id` stopped being leased: frees its permit, if it held one, and names the key whose
    /// next waiter may go.
    pub(super) fn release(&mut self, id: TaskId) -> Option<Key> {
        if self.held_by.is_empty() {
            return None;
        }
        let key = self.held_by.remove(&id)?;
        if let Some(h) = self.holders.get_mut(&key) {
            h.remove(&id);
            if h.is_empty() {
                self.holders.remove(&key);
            }
        }
        Some(key)
    }

    /// The next task waiting on `key`, if any.
    pub(super) fn next_waiter(&mut self, key: &Key) -> Option<TaskId> {
        let list = self.waiting.get_mut(key)?;
        let next = list.pop_front();
        if list.is_empty() {
            self.waiting.remove(key);
        }
        if next.is_some() {
            self.woke = true;
        }
        next
    }

    /// Whether a waiter went back to ready since the last call.
    pub(super) fn take_woke(&mut self) -> bool {
        std::mem::take(&mut self.woke)
    }

    /// Forgets rate keys whose slot is in the past (they hold nothing a fresh key would not).
    pub(super) fn sweep(&mut self, now: Instant) {
        if self.tat.len() > 10_000 {
            self.tat.retain(|_, tat| *tat > now);
        }
    }
}

/// How far ahead of its slot a rated task may start: 50 ms worth of whole slots (none for
/// rates under 20/s), as on Redis, so a slot is not lost when deferred tasks come back a
/// little late.
fn burst_tolerance(interval_us: u64) -> Duration {
    let interval = interval_us.max(1);
    Duration::from_micros(50_000 / interval * interval)
}
