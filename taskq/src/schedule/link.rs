//! Schedules declared in code (`#[task(cron = "...")]`), registered at link time like tasks.

use std::fmt;

use super::error::ScheduleError;
use super::spec::{Catchup, Dst, Overlap, Schedule, ScheduleSpec};
use crate::error::Error;
use crate::message::Envelope;

/// A schedule that `#[task(cron = "...", tz = "...")]` registers at link time. Workers store
/// every linked one at boot ([`Backend::put_schedule`](crate::backend::Backend::put_schedule))
/// and run it.
pub struct ScheduleEntry {
    /// The task's registered name (also the schedule's id).
    pub task: &'static str,
    /// The cron expression.
    pub cron: &'static str,
    /// The time zone (`UTC` when none is given).
    pub tz: &'static str,
    /// Missed ticks after downtime.
    pub catchup: Catchup,
    /// A tick while the previous run is unfinished.
    pub overlap: Overlap,
    /// Daylight-saving gaps and folds.
    pub dst: Dst,
    /// The jitter, in milliseconds.
    pub jitter_ms: u64,
    /// The message of the task (it takes no arguments).
    pub template: fn() -> Result<Envelope, Error>,
}

impl fmt::Debug for ScheduleEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScheduleEntry")
            .field("task", &self.task)
            .field("cron", &self.cron)
            .field("tz", &self.tz)
            .finish_non_exhaustive()
    }
}

impl ScheduleEntry {
    /// The entry's spec.
    ///
    /// # Errors
    /// Only if the macro's checks missed something: a bad cron or time zone, an encoding
    /// failure.
    pub fn spec(&self) -> Result<ScheduleSpec, ScheduleError> {
        let template = (self.template)().map_err(|e| ScheduleError::Encode(Box::new(e)))?;
        Schedule::cron(self.cron)?
            .tz(self.tz)?
            .catchup(self.catchup)
            .overlap(self.overlap)
            .dst(self.dst)
            .jitter(std::time::Duration::from_millis(self.jitter_ms))
            .run_envelope(template)
    }
}

/// Every schedule declared with `#[task(cron = ...)]` in the binary.
///
/// ```
/// #[taskq::task(cron = "0 9 * * MON-FRI", tz = "Europe/Berlin")]
/// async fn standup() {}
///
/// assert!(taskq::schedule::linked().any(|s| s.task.ends_with("standup")));
/// ```
pub fn linked() -> impl Iterator<Item = &'static ScheduleEntry> {
    crate::link::schedules()
}
