//! What a backend keeps of a schedule beside its spec, and the tick claim it answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::spec::{Overlap, ScheduleSpec};
use crate::message::{Envelope, TaskId, Timestamp};

/// Why a tick did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// Missed while no scheduler ran, and left out by the catch-up policy.
    Catchup,
    /// The previous run had not finished ([`Overlap::Skip`]).
    Overlap,
    /// The previous run had not finished and a tick was kept already
    /// ([`Overlap::BufferOne`]).
    BufferFull,
    /// The schedule was paused.
    Paused,
}

impl SkipReason {
    /// The reason as written in metrics and stored state (`catchup`, `overlap`, `buffer_full`,
    /// `paused`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Catchup => "catchup",
            Self::Overlap => "overlap",
            Self::BufferFull => "buffer_full",
            Self::Paused => "paused",
        }
    }

    /// The reason named by [`SkipReason::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "catchup" => Self::Catchup,
            "overlap" => Self::Overlap,
            "buffer_full" => Self::BufferFull,
            "paused" => Self::Paused,
            _ => return None,
        })
    }
}

/// A skipped tick, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedTick {
    /// Its nominal instant (the newest one, for a run of catch-up skips).
    pub nominal: Timestamp,
    /// Why.
    pub reason: SkipReason,
    /// How many ticks this record stands for (catch-up skips are recorded as one).
    pub count: u64,
}

/// How many skipped ticks a backend keeps, newest first.
pub const RECENT_SKIPS: usize = 20;

/// A schedule's state: what every scheduler agrees on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// Paused: ticks are recorded as skipped (reason `paused`), none runs.
    pub paused: bool,
    /// The nominal instant of the latest claimed tick; only later ones can be claimed.
    pub last_tick: Option<Timestamp>,
    /// The task the latest run sent.
    pub last_task: Option<TaskId>,
    /// The nominal instant of a tick kept by [`Overlap::BufferOne`].
    pub buffered: Option<Timestamp>,
    /// How many ticks ran (were enqueued).
    pub runs: u64,
    /// Skipped ticks by reason, in all.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// The latest skipped ticks, newest first (at most [`RECENT_SKIPS`]).
    pub recent_skips: Vec<SkippedTick>,
}

impl ScheduleState {
    /// Records skipped ticks.
    pub fn record_skip(&mut self, nominal: Timestamp, reason: SkipReason, count: u64) {
        if count == 0 {
            return;
        }
        *self.skipped.entry(reason).or_default() += count;
        self.recent_skips.insert(
            0,
            SkippedTick {
                nominal,
                reason,
                count,
            },
        );
        self.recent_skips.truncate(RECENT_SKIPS);
    }
}

/// A schedule as stored: its spec and state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredSchedule {
    /// What it is.
    pub spec: ScheduleSpec,
    /// Where it is.
    pub state: ScheduleState,
}

/// A scheduler's claim of one tick: [`Backend::claim_tick`](crate::backend::Backend::claim_tick).
#[derive(Clone, Debug)]
pub struct TickClaim {
    /// The schedule.
    pub schedule: String,
    /// The tick's nominal instant.
    pub nominal: Timestamp,
    /// The message to send: id derived from the schedule and the nominal instant
    /// ([`tick_id`](super::tick_id)), `eta` the tick's run instant.
    pub envelope: Envelope,
    /// Older ticks the catch-up policy leaves out, recorded as skipped with the claim.
    pub missed: u64,
    /// The schedule's overlap policy.
    pub overlap: Overlap,
}

/// What [`Backend::claim_tick`](crate::backend::Backend::claim_tick) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TickOutcome {
    /// This claim won: the task was sent.
    Enqueued(TaskId),
    /// This claim won; the previous run is unfinished, so the tick is kept to send later.
    Buffered,
    /// This claim won, and the tick was recorded as skipped.
    Skipped(SkipReason),
    /// The tick (or a later one) was claimed already: by another scheduler, or this one.
    AlreadyClaimed,
    /// No such schedule (deleted).
    NotFound,
}
