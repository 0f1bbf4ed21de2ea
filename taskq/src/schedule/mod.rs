//! Periodic schedules, fleet-wide and leaderless.
//!
//! A [`Schedule`] says when (a cron expression in a time zone, or a clock-aligned interval)
//! and what (a task with its arguments). It is stored in the backend
//! ([`Backend::put_schedule`](crate::backend::Backend::put_schedule)), so every process sees
//! it, and every worker runs a scheduler loop ([`runner`]) that sleeps until the next tick and
//! claims it. A claim is one atomic step in the backend: it succeeds only for a tick later than
//! the last one claimed, records it, applies the overlap policy and enqueues the task under an
//! id derived from the schedule and the tick's nominal instant ([`tick_id`]). Two or ten
//! schedulers cannot run a tick twice, one that dies loses nothing, and no leader is needed.
//!
//! ```
//! use taskq::schedule::{Catchup, Overlap};
//!
//! #[taskq::task]
//! async fn report(region: String) {}
//!
//! # fn main() -> Result<(), taskq::schedule::ScheduleError> {
//! let spec = taskq::Schedule::cron("0 9 * * MON-FRI")?
//!     .tz("Europe/Berlin")?
//!     .overlap(Overlap::Skip)
//!     .catchup(Catchup::Skip)
//!     .run(report::new("eu".into()))?;
//! let next = spec.ticks()?.upcoming(taskq::Timestamp::now(), 3);
//! assert_eq!(next.len(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/schedules.md` for the semantics (DST, catch-up, overlap).

mod client;
pub mod clock;
mod cron;
mod error;
mod link;
pub mod runner;
mod spec;
mod state;
mod ticks;

pub use self::cron::{parse as parse_cron, parse_duration, time_zone};
pub use error::ScheduleError;
pub use link::{linked, ScheduleEntry};
pub use spec::{check_id, Catchup, Dst, Overlap, Schedule, ScheduleSpec, When};
pub use state::{
    ScheduleState, SkipReason, SkippedTick, StoredSchedule, TickClaim, TickOutcome, RECENT_SKIPS,
};
pub use ticks::Ticks;

use crate::message::{TaskId, Timestamp};

/// The namespace of tick ids (UUID v5).
const TICK_NAMESPACE: uuid::Uuid = uuid::Uuid::from_bytes([
    0x6b, 0x1f, 0x3c, 0x52, 0x9a, 0x0e, 0x4d, 0x21, 0x8c, 0x77, 0x15, 0xe2, 0x40, 0xd9, 0xa3, 0x5f,
]);

/// The task id of a schedule's tick: a UUID v5 of the schedule id and the nominal instant, the
/// same in every process, so a tick enqueued twice is one task.
///
/// ```
/// use taskq::Timestamp;
/// let a = taskq::schedule::tick_id("nightly", Timestamp(1_000));
/// assert_eq!(a, taskq::schedule::tick_id("nightly", Timestamp(1_000)));
/// assert_ne!(a, taskq::schedule::tick_id("nightly", Timestamp(2_000)));
/// ```
pub fn tick_id(schedule: &str, nominal: Timestamp) -> TaskId {
    let mut name = Vec::with_capacity(schedule.len() + 21);
    name.extend_from_slice(schedule.as_bytes());
    name.push(b'@');
    name.extend_from_slice(itoa::Buffer::new().format(nominal.0).as_bytes());
    TaskId::from(uuid::Uuid::new_v5(&TICK_NAMESPACE, &name))
}

/// The jitter of a tick, in `[0, jitter_ms)`: a hash of the schedule id and the nominal
/// instant, so every process computes the same.
///
/// ```
/// use taskq::Timestamp;
/// let j = taskq::schedule::tick_jitter("nightly", Timestamp(1_000), 30_000);
/// assert!(j < 30_000);
/// assert_eq!(j, taskq::schedule::tick_jitter("nightly", Timestamp(1_000), 30_000));
/// assert_eq!(taskq::schedule::tick_jitter("nightly", Timestamp(1_000), 0), 0);
/// ```
pub fn tick_jitter(schedule: &str, nominal: Timestamp, jitter_ms: u64) -> u64 {
    if jitter_ms == 0 {
        return 0;
    }
    let id = tick_id(schedule, nominal);
    let b = id.as_uuid().as_bytes();
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[8..16]);
    u64::from_le_bytes(word) % jitter_ms
}

/// The message of one tick: the template with the tick's id and run instant (`eta`: the
/// nominal instant plus jitter; the bench and tests read the nominal instant back as
/// `eta - tick_jitter(..)`).
pub fn tick_envelope(spec: &ScheduleSpec, nominal: Timestamp) -> crate::Envelope {
    let mut env = spec.template.clone();
    env.id = tick_id(&spec.id, nominal);
    env.eta = Some(Timestamp(nominal.0.saturating_add(tick_jitter(
        &spec.id,
        nominal,
        spec.jitter_ms,
    ))));
    env.enqueued_at = Timestamp::now();
    env.attempt = 0;
    env
}
