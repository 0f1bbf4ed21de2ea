//! What a schedule is: when it fires ([`When`]), what it sends (a task template), and its
//! policies ([`Catchup`], [`Overlap`], [`Dst`], jitter); and [`Schedule`], the builder.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::ScheduleError;
use super::ticks::Ticks;
use crate::message::Envelope;
use crate::task::{Call, Task};

/// When a schedule fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    /// A cron expression (5 fields, or 6 with seconds first) read in a time zone.
    Cron {
        /// The expression, as written.
        expr: String,
        /// The IANA time zone name (`UTC` when none is given).
        tz: String,
    },
    /// Every `every_ms`, aligned on the Unix epoch plus `phase_ms`: the ticks are
    /// `epoch + phase + n * every`, so every process computes the same ones and nothing drifts.
    Every {
        /// The interval, in milliseconds (at least 1).
        every_ms: u64,
        /// The offset of the ticks from the epoch's multiples, in milliseconds.
        #[serde(default, skip_serializing_if = "is_zero")]
        phase_ms: u64,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What to do with the ticks no scheduler claimed while none ran (downtime, a pause of every
/// worker). Never a flood: at most one run, or at most `cap` runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum Catchup {
    /// Run the latest missed tick once; the older ones are recorded as skipped
    /// (reason `catchup`). The default.
    #[default]
    Skip,
    /// Run every missed tick whose nominal instant is within `window_ms` of now, oldest first,
    /// at most `cap` of them (the newest `cap`); the others are recorded as skipped.
    All {
        /// How far back missed ticks still run, in milliseconds.
        window_ms: u64,
        /// The most missed ticks run at once.
        cap: u32,
    },
}

/// What to do with a tick when the previous run of the schedule has not finished (it is still
/// queued, delayed or running).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Run it anyway. The default.
    #[default]
    Allow,
    /// Do not run it; it is recorded as skipped (reason `overlap`).
    Skip,
    /// Keep it (one at most) and send it once the previous run finished; a tick that comes
    /// while one is kept is recorded as skipped (reason `buffer_full`).
    BufferOne,
}

/// How a cron schedule treats local times that a daylight-saving change skips or repeats.
/// Interval schedules ([`When::Every`]) run in absolute time and are unaffected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dst {
    /// cron(8)'s rule (and croner's). A fixed-time job (one value in each of the second,
    /// minute and hour fields, like `30 2 * * *`) whose local time does not exist runs once at
    /// the first instant after the gap, and one whose local time happens twice runs once, at
    /// the first. A wildcard or stepped job (`*/15 * * * *`) runs at every instant its pattern
    /// matches on the wall clock: none inside a gap, each occurrence inside a repeated hour.
    /// The default.
    #[default]
    Vixie,
    /// Temporal's literal rule: a local time that does not exist never runs, one that happens
    /// twice runs twice.
    Literal,
}

/// A stored schedule: its id, when it fires, the task it sends and its policies. What
/// [`Schedule::run`] builds and [`Backend::put_schedule`](crate::backend::Backend::put_schedule)
/// stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// The schedule's id: unique per backend (by default the task's name).
    pub id: String,
    /// When it fires.
    pub when: When,
    /// The message each tick sends, with a fresh id (derived from the schedule id and the
    /// tick's nominal instant) and its `eta` set to the tick's instant (plus jitter).
    pub template: Envelope,
    /// Missed ticks after downtime.
    #[serde(default)]
    pub catchup: Catchup,
    /// A tick while the previous run is unfinished.
    #[serde(default)]
    pub overlap: Overlap,
    /// Daylight-saving gaps and folds.
    #[serde(default)]
    pub dst: Dst,
    /// Each tick runs up to this long after its nominal instant (milliseconds), by an amount
    /// fixed by a hash of the schedule id and the instant, so every process agrees on it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub jitter_ms: u64,
}

impl ScheduleSpec {
    /// The schedule's tick calculator.
    ///
    /// # Errors
    /// The stored cron expression or time zone no longer parses (a spec written by hand).
    pub fn ticks(&self) -> Result<Ticks, ScheduleError> {
        Ticks::new(&self.when, self.dst)
    }
}

/// Builds a [`ScheduleSpec`]: when, then the task.
///
/// ```
/// #[taskq::task]
/// async fn report(region: String) {}
///
/// # fn main() -> Result<(), taskq::schedule::ScheduleError> {
/// let nightly = taskq::Schedule::cron("30 2 * * *")?
///     .tz("America/New_York")?
///     .id("report-eu")?
///     .run(report::new("eu".into()))?;
/// assert_eq!(nightly.id, "report-eu");
///
/// let often = taskq::Schedule::every("90s")?.run(report::new("us".into()))?;
/// assert!(matches!(often.when, taskq::schedule::When::Every { every_ms: 90_000, .. }));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Schedule {
    id: Option<String>,
    when: When,
    catchup: Catchup,
    overlap: Overlap,
    dst: Dst,
    jitter_ms: u64,
}

impl Schedule {
    /// Fires on a cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6
    /// (seconds first), with names (`MON-FRI`, `JAN`), ranges, steps, lists, `L`, `W`, `#` and
    /// `@daily`-style nicknames. Read in UTC unless [`Schedule::tz`] says otherwise.
    ///
    /// # Errors
    /// [`ScheduleError::BadCron`].
    pub fn cron(expr: &str) -> Result<Self, ScheduleError> {
        super::cron::parse(expr)?;
        Ok(Self::new(When::Cron {
            expr: expr.trim().to_owned(),
            tz: "UTC".to_owned(),
        }))
    }

    /// Fires every interval (`"90s"`, `"15m"`, `"1h30m"`, `"500ms"`, `"1d"`), on the instants
    /// `epoch + n * interval`.
    ///
    /// # Errors
    /// [`ScheduleError::BadInterval`] for text that does not parse, or zero.
    pub fn every(interval: &str) -> Result<Self, ScheduleError> {
        let every = super::cron::parse_duration(interval)?;
        Self::every_duration(every).map_err(|_| ScheduleError::BadInterval {
            text: interval.to_owned(),
            reason: "below one millisecond",
        })
    }

    /// [`Schedule::every`] with a [`Duration`].
    ///
    /// # Errors
    /// [`ScheduleError::BadInterval`] below one millisecond.
    pub fn every_duration(every: Duration) -> Result<Self, ScheduleError> {
        let every_ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        if every_ms == 0 {
            return Err(ScheduleError::BadInterval {
                text: format!("{every:?}"),
                reason: "below one millisecond",
            });
        }
        Ok(Self::new(When::Every {
            every_ms,
            phase_ms: 0,
        }))
    }

    fn new(when: When) -> Self {
        Self {
            id: None,
            when,
            catchup: Catchup::default(),
            overlap: Overlap::default(),
            dst: Dst::default(),
            jitter_ms: 0,
        }
    }

    /// The time zone a cron expression is read in (an IANA name, `Europe/Berlin`). No effect
    /// on an interval.
    ///
    /// # Errors
    /// [`ScheduleError::UnknownTimeZone`].
    pub fn tz(mut self, name: &str) -> Result<Self, ScheduleError> {
        super::cron::time_zone(name)?;
        if let When::Cron { tz, .. } = &mut self.when {
            name.clone_into(tz);
        }
        Ok(self)
    }

    /// Shifts an interval's ticks from the epoch's multiples (`every("1h")` with phase `"7m"`
    /// fires at minute 7 of each hour). No effect on a cron expression.
    ///
    /// # Errors
    /// [`ScheduleError::BadInterval`] for text that does not parse.
    pub fn phase(mut self, phase: &str) -> Result<Self, ScheduleError> {
        let d = super::cron::parse_duration(phase)?;
        if let When::Every { phase_ms, every_ms } = &mut self.when {
            *phase_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX) % *every_ms;
        }
        Ok(self)
    }

    /// The schedule's id (by default the task's name): give one when one task has several
    /// schedules.
    ///
    /// # Errors
    /// [`ScheduleError::BadId`] when empty, longer than 200 characters, or with whitespace.
    pub fn id(mut self, id: &str) -> Result<Self, ScheduleError> {
        check_id(id)?;
        self.id = Some(id.to_owned());
        Ok(self)
    }

    /// Missed ticks after downtime (default [`Catchup::Skip`]).
    pub fn catchup(mut self, catchup: Catchup) -> Self {
        self.catchup = catchup;
        self
    }

    /// A tick while the previous run is unfinished (default [`Overlap::Allow`]).
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }

    /// Daylight-saving gaps and folds (default [`Dst::Vixie`]).
    pub fn dst(mut self, dst: Dst) -> Self {
        self.dst = dst;
        self
    }

    /// Spreads each tick's run over up to `jitter` after its instant, by a fixed amount per
    /// tick (a hash of the schedule and the instant).
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter_ms = u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The schedule of `call`: the task and its options (queue, priority, retries...) that
    /// every tick sends.
    ///
    /// # Errors
    /// [`ScheduleError::Encode`] when the arguments do not serialize;
    /// [`ScheduleError::BadCatchup`] for `Catchup::All` with a zero window or cap.
    pub fn run<T: Task>(self, call: impl Into<Call<T>>) -> Result<ScheduleSpec, ScheduleError> {
        let template = call
            .into()
            .into_envelope()
            .map_err(|e| ScheduleError::Encode(Box::new(e)))?;
        self.run_envelope(template)
    }

    /// The schedule of a prepared message (a task this process does not link, by name).
    ///
    /// # Errors
    /// As [`Schedule::run`].
    pub fn run_envelope(self, template: Envelope) -> Result<ScheduleSpec, ScheduleError> {
        if let Catchup::All { window_ms, cap } = self.catchup {
            if window_ms == 0 || cap == 0 {
                return Err(ScheduleError::BadCatchup(
                    "`all` needs a window and a cap above 0",
                ));
            }
        }
        let id = match self.id {
            Some(id) => id,
            None => {
                check_id(&template.task)?;
                template.task.clone()
            }
        };
        Ok(ScheduleSpec {
            id,
            when: self.when,
            template,
            catchup: self.catchup,
            overlap: self.overlap,
            dst: self.dst,
            jitter_ms: self.jitter_ms,
        })
    }
}

/// Checks a schedule id: 1 to 200 characters, no whitespace or control characters.
///
/// # Errors
/// [`ScheduleError::BadId`].
pub fn check_id(id: &str) -> Result<(), ScheduleError> {
    let ok = !id.is_empty()
        && id.chars().count() <= 200
        && !id.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ScheduleError::BadId { id: id.to_owned() })
    }
}
