//! The scheduler loop every worker runs: it keeps the stored schedules in view, sleeps until
//! the next tick's instant, and claims it ([`Backend::claim_tick`]). Claims are atomic in the
//! backend, so any number of loops may run; none is a leader.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::clock::{Clock, SystemClock};
use super::spec::{Catchup, ScheduleSpec};
use super::state::{SkipReason, StoredSchedule, TickClaim, TickOutcome};
use super::ticks::Ticks;
use crate::backend::Backend;
use crate::error::BackendError;
use crate::message::Timestamp;

/// How often the loop reads the stored schedules again (new, changed, deleted ones; a kept
/// tick to release).
pub const REFRESH: Duration = Duration::from_secs(1);

/// The most missed ticks looked at when catching up.
const CATCHUP_LIMIT: usize = 100_000;

/// A scheduler loop over one backend.
///
/// ```
/// use std::sync::Arc;
/// use taskq::schedule::runner::Scheduler;
///
/// #[taskq::task]
/// async fn ping() {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = Arc::new(taskq::backend::memory::MemoryBackend::new());
/// let spec = taskq::Schedule::every("1s")?.run(ping::new())?;
/// let stop = tokio_util::sync::CancellationToken::new();
/// let scheduler = Scheduler::new(backend.clone()).declare(spec);
/// let running = tokio::spawn(scheduler.run(stop.clone()));
/// tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
/// stop.cancel();
/// running.await?;
/// use taskq::backend::Backend;
/// let stored = backend.schedules().await?;
/// assert!(stored[0].state.runs >= 1);
/// # Ok(())
/// # }
/// ```
pub struct Scheduler {
    backend: Arc<dyn Backend>,
    clock: Arc<dyn Clock>,
    declared: Vec<ScheduleSpec>,
    refresh: Duration,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("backend", &self.backend.name())
            .field("declared", &self.declared.len())
            .finish_non_exhaustive()
    }
}

struct Tracked {
    spec: ScheduleSpec,
    ticks: Ticks,
    /// The latest tick this loop knows was claimed (by anyone).
    last: Timestamp,
    buffered: bool,
}

impl Scheduler {
    /// A loop over `backend`'s stored schedules, on the system clock.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            clock: Arc::new(SystemClock),
            declared: Vec::new(),
            refresh: REFRESH,
        }
    }

    /// A loop over `backend` that also stores `declared` and every schedule linked in with
    /// `#[task(cron = ..)]` (what a worker runs).
    pub fn with_linked(backend: Arc<dyn Backend>, declared: Vec<ScheduleSpec>) -> Self {
        let mut s = Self::new(backend);
        for entry in super::linked() {
            match entry.spec() {
                Ok(spec) => s.declared.push(spec),
                Err(e) => {
                    tracing::warn!(task = entry.task, error = %e, "a declared schedule is left out")
                }
            }
        }
        s.declared.extend(declared);
        s
    }

    /// Reads the time from `clock` (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A schedule to store at start (idempotently) besides the stored ones.
    pub fn declare(mut self, spec: ScheduleSpec) -> Self {
        self.declared.push(spec);
        self
    }

    /// How often to read the stored schedules again (default [`REFRESH`]).
    pub fn refresh(mut self, every: Duration) -> Self {
        self.refresh = every.max(Duration::from_millis(10));
        self
    }

    /// Runs until `stop` is cancelled. Backend errors are logged and retried; a backend
    /// without schedules ends the loop with a log line.
    pub async fn run(self, stop: CancellationToken) {
        for spec in &self.declared {
            loop {
                match self.backend.put_schedule(spec).await {
                    Ok(_) => break,
                    Err(BackendError::Unsupported { .. }) => {
                        tracing::debug!(
                            backend = self.backend.name(),
                            "the backend stores no schedules; the scheduler stops"
                        );
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, schedule = %spec.id, "storing a schedule failed; retrying");
                        tokio::select! {
                            () = stop.cancelled() => return,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            }
        }
        let mut tracked: HashMap<String, Tracked> = HashMap::new();
        let mut next_refresh = Timestamp(0);
        loop {
            if stop.is_cancelled() {
                return;
            }
            let now = self.clock.now();
            if now >= next_refresh {
                match self.backend.schedules().await {
                    Ok(stored) => self.track(&mut tracked, stored, now).await,
                    Err(BackendError::Unsupported { .. }) => return,
                    Err(e) => tracing::warn!(error = %e, "reading the schedules failed"),
                }
                next_refresh = self.clock.now().after(self.refresh);
            }
            let now = self.clock.now();
            let mut wake = next_refresh;
            for t in tracked.values_mut() {
                if let Some(next) = t.ticks.next_after(t.last) {
                    if next <= now {
                        self.fire(t, now).await;
                    }
                }
                if let Some(next) = t.ticks.next_after(t.last) {
                    wake = wake.min(next);
                }
            }
            if self.clock.now() < wake {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = self.clock.sleep_until(wake) => {}
                }
            }
        }
    }

    async fn track(
        &self,
        tracked: &mut HashMap<String, Tracked>,
        stored: Vec<StoredSchedule>,
        now: Timestamp,
    ) {
        let mut seen = HashMap::with_capacity(stored.len());
        for s in stored {
            seen.insert(s.spec.id.clone(), ());
            let stored_last = s.state.last_tick;
            let buffered = s.state.buffered.is_some();
            match tracked.get_mut(&s.spec.id) {
                Some(t) if t.spec == s.spec => {
                    if let Some(l) = stored_last {
                        t.last = t.last.max(l);
                    }
                    t.buffered = buffered;
                }
                _ => {
                    let ticks = match s.spec.ticks() {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::warn!(schedule = %s.spec.id, error = %e, "a stored schedule does not parse; it is left out");
                            continue;
                        }
                    };
                    // A schedule never claimed starts from now: no tick before it was seen.
                    let last = stored_last.unwrap_or(now);
                    tracked.insert(
                        s.spec.id.clone(),
                        Tracked {
                            spec: s.spec,
                            ticks,
                            last,
                            buffered,
                        },
                    );
                }
            }
        }
        tracked.retain(|id, _| seen.contains_key(id));
        for t in tracked.values() {
            if t.buffered {
                match self.backend.release_buffered(&t.spec.id).await {
                    Ok(Some(id)) => announce(&*self.backend, &t.spec, id),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(schedule = %t.spec.id, error = %e, "releasing a kept tick failed");
                    }
                }
            }
        }
    }

    /// Claims the due ticks of `t` by its catch-up policy.
    async fn fire(&self, t: &mut Tracked, now: Timestamp) {
        let (claims, missed) = match t.spec.catchup {
            Catchup::Skip => {
                let (latest, count) = t.ticks.between(t.last, now, 1, CATCHUP_LIMIT);
                (latest, count.saturating_sub(1) as u64)
            }
            Catchup::All { window_ms, cap } => {
                let from = Timestamp(now.0.saturating_sub(window_ms)).max(t.last);
                let (kept, count) = t.ticks.between(from, now, cap as usize, CATCHUP_LIMIT);
                let (_, older) = t.ticks.between(t.last, from, 0, CATCHUP_LIMIT);
                (kept.clone(), (count - kept.len() + older) as u64)
            }
        };
        let mut missed = missed;
        for nominal in claims {
            let claim = TickClaim {
                schedule: t.spec.id.clone(),
                nominal,
                envelope: super::tick_envelope(&t.spec, nominal),
                missed,
                overlap: t.spec.overlap,
            };
            match self.backend.claim_tick(&claim).await {
                Ok(outcome) => {
                    if missed > 0 && outcome != TickOutcome::AlreadyClaimed {
                        crate::telemetry::record_ticks_skipped(
                            &t.spec.id,
                            SkipReason::Catchup.as_str(),
                            missed,
                        );
                        announce_skip(
                            &*self.backend,
                            &t.spec,
                            nominal,
                            SkipReason::Catchup,
                            missed,
                        );
                    }
                    match outcome {
                        TickOutcome::Skipped(reason) => {
                            crate::telemetry::record_ticks_skipped(&t.spec.id, reason.as_str(), 1);
                            announce_skip(&*self.backend, &t.spec, nominal, reason, 1);
                            tracing::info!(schedule = %t.spec.id, nominal = nominal.0, reason = reason.as_str(), "schedule tick skipped");
                        }
                        TickOutcome::Enqueued(id) => {
                            announce(&*self.backend, &t.spec, id);
                            tracing::debug!(schedule = %t.spec.id, nominal = nominal.0, task_id = %id, "schedule tick sent");
                        }
                        TickOutcome::Buffered => t.buffered = true,
                        _ => {}
                    }
                    missed = 0;
                    t.last = nominal;
                }
                Err(e) => {
                    // The tick stays due: the next pass claims it again (or a later one).
                    tracing::warn!(schedule = %t.spec.id, error = %e, "claiming a tick failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return;
                }
            }
        }
        if t.last < now {
            // Nothing due was left: the loop sleeps until the tick after `now`.
            if t.ticks.next_after(t.last).is_some_and(|n| n <= now) {
                t.last = now;
            }
        }
    }
}

/// Records the `enqueued` event of a tick's task (and so the submitted metric), as a client's
/// send does: only the scheduler whose claim sent it.
fn announce(backend: &dyn Backend, spec: &ScheduleSpec, id: crate::message::TaskId) {
    if !crate::events::wanted() {
        return;
    }
    let registry = crate::registry::Registry::global().ok();
    let (task, queue) = crate::events::names(registry, &spec.template.task, &spec.template.queue);
    let event = crate::events::Event::new(crate::events::EventKind::Enqueued, id, task, queue);
    crate::events::record(backend, event);
}

/// Records a `tick_skipped` event: id the tick's task id, `at` its nominal instant, `detail`
/// the reason, the schedule and (for catch-up skips) how many ticks it stands for.
fn announce_skip(
    backend: &dyn Backend,
    spec: &ScheduleSpec,
    nominal: Timestamp,
    reason: SkipReason,
    count: u64,
) {
    if !crate::events::wanted() {
        return;
    }
    let registry = crate::registry::Registry::global().ok();
    let (task, queue) = crate::events::names(registry, &spec.template.task, &spec.template.queue);
    let mut event = crate::events::Event::new(
        crate::events::EventKind::TickSkipped,
        super::tick_id(&spec.id, nominal),
        task,
        queue,
    );
    event.at = nominal;
    event.detail = Some(if count > 1 {
        format!("{} ({count} ticks) schedule {}", reason.as_str(), spec.id)
    } else {
        format!("{} schedule {}", reason.as_str(), spec.id)
    });
    crate::events::record(backend, event);
}
