//! Rate and concurrency limits of the in-memory backend (see [`crate::flow`]), decided under
//! the backend's lock in the fetch, as the Redis fetch script decides them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::flow::{BreakerReport, BreakerSpec, BreakerState, Gate};
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
    /// Circuit breakers: each key's state and its recent failures.
    breakers: HashMap<Key, Breaker>,
}

/// One circuit breaker (times on the wall clock, in milliseconds since the epoch).
#[derive(Default)]
struct Breaker {
    /// `None`: closed.
    open_until: Option<u64>,
    /// Half-open: how many probes may still start.
    probes_left: Option<u32>,
    /// When the failures of the current window happened.
    failures: VecDeque<u64>,
    /// Half-open: when the last probe started.
    probe_at: u64,
}

impl Breaker {
    fn state(&self, wall_ms: u64) -> BreakerState {
        match (self.open_until, self.probes_left) {
            (Some(until), _) if wall_ms < until => BreakerState::Open { until },
            (Some(_), left) => BreakerState::HalfOpen {
                probes_left: left.unwrap_or(0),
            },
            (None, _) => BreakerState::Closed,
        }
    }
}

/// How long a task waits when a half-open breaker has no probe left for it.
const PROBE_WAIT_MS: u64 = 1_000;

/// How long a half-open breaker waits for its probes to report before giving them again.
const PROBE_TIMEOUT_MS: u64 = 60_000;

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
        wall_ms: u64,
    ) -> Admission {
        // Half-open: the probe is counted only once the task passes its other limits.
        let mut probe: Option<Key> = None;
        if let Some(b) = &gate.breaker {
            let key = (queue.to_owned(), b.key.clone());
            if let Some(brk) = self.breakers.get_mut(&key) {
                match brk.state(wall_ms) {
                    BreakerState::Closed => {}
                    // Looked at again within a second, so a breaker closed by hand lets
                    // its tasks go soon, not at the end of the cooldown.
                    BreakerState::Open { until } => {
                        let wait = (until - wall_ms).min(PROBE_WAIT_MS);
                        return Admission::Later(now + Duration::from_millis(wait));
                    }
                    BreakerState::HalfOpen { .. } => {
                        let stale = wall_ms.saturating_sub(brk.probe_at) > PROBE_TIMEOUT_MS;
                        let left = brk.probes_left.get_or_insert(b.spec.probes);
                        if *left == 0 && stale {
                            // Its probes never reported (their worker died): give them again.
                            *left = b.spec.probes;
                        }
                        if *left == 0 {
                            return Admission::Later(now + Duration::from_millis(PROBE_WAIT_MS));
                        }
                        probe = Some(key);
                    }
                }
            }
        }
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
        if let Some(brk) = probe.and_then(|k| self.breakers.get_mut(&k)) {
            if let Some(left) = brk.probes_left.as_mut() {
                *left = left.saturating_sub(1);
            }
            brk.probe_at = wall_ms;
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

    /// Records the end of an attempt under a breaker and says its state before and after.
    pub(super) fn report(
        &mut self,
        queue: &str,
        key: &str,
        spec: &BreakerSpec,
        success: bool,
        wall_ms: u64,
    ) -> BreakerReport {
        let brk = self
            .breakers
            .entry((queue.to_owned(), key.to_owned()))
            .or_default();
        let before = brk.state(wall_ms);
        let half_open = matches!(before, BreakerState::HalfOpen { .. });
        if success {
            if half_open {
                *brk = Breaker::default();
            }
        } else if half_open {
            brk.open_until = Some(wall_ms + spec.cooldown_ms);
            brk.probes_left = None;
        } else if brk.open_until.is_none() {
            brk.failures.push_back(wall_ms);
            while brk
                .failures
                .front()
                .is_some_and(|at| *at + spec.within_ms <= wall_ms)
            {
                brk.failures.pop_front();
            }
            if brk.failures.len() >= usize::try_from(spec.failures).unwrap_or(usize::MAX) {
                brk.open_until = Some(wall_ms + spec.cooldown_ms);
                brk.probes_left = None;
                brk.failures.clear();
            }
        }
        BreakerReport {
            before,
            after: brk.state(wall_ms),
        }
    }

    /// Opens a breaker for `open_for`, or closes it (`None`).
    pub(super) fn set_breaker(
        &mut self,
        queue: &str,
        key: &str,
        open_for: Option<Duration>,
        wall_ms: u64,
    ) {
        let key = (queue.to_owned(), key.to_owned());
        match open_for {
            Some(d) => {
                let brk = self.breakers.entry(key).or_default();
                brk.open_until =
                    Some(wall_ms + u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2));
                brk.probes_left = None;
            }
            None => {
                self.breakers.remove(&key);
            }
        }
    }

    /// A breaker's state.
    pub(super) fn breaker_state(&self, queue: &str, key: &str, wall_ms: u64) -> BreakerState {
        self.breakers
            .get(&(queue.to_owned(), key.to_owned()))
            .map_or(BreakerState::Closed, |b| b.state(wall_ms))
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
