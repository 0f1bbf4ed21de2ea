//! The fire times of a schedule: the next tick after an instant, with the DST policy applied.
//!
//! A cron expression is matched on the wall clock of its time zone (croner, on `jiff`'s civil
//! time); each wall-clock match is then turned into zero, one or two instants by the schedule's
//! [`Dst`] policy, from `jiff`'s account of the offsets in force (a gap or a fold). Far from any
//! transition each match is one instant and the first match is the answer; near one, every
//! match within a few hours is resolved and the earliest instant wins.

use croner::{Cron, JobType};
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::SignedDuration;

use super::error::ScheduleError;
use super::spec::{Dst, When};
use crate::message::Timestamp;

/// More than any tz offset change (Antarctica/Troll's is two hours).
const MARGIN: SignedDuration = SignedDuration::from_hours(4);
/// A bound on the wall-clock matches looked at near a transition (a per-second expression
/// has 28,800 in the margin either side).
const MAX_SCAN: usize = 40_000;

/// A schedule's tick calculator. Built by [`ScheduleSpec::ticks`](super::ScheduleSpec::ticks).
///
/// ```
/// use taskq::schedule::{Dst, Ticks, When};
/// use taskq::Timestamp;
///
/// let every = When::Every { every_ms: 90_000, phase_ms: 0 };
/// let ticks = Ticks::new(&every, Dst::Vixie).unwrap();
/// assert_eq!(ticks.next_after(Timestamp(1)), Some(Timestamp(90_000)));
/// assert_eq!(ticks.next_after(Timestamp(90_000)), Some(Timestamp(180_000)));
/// ```
#[derive(Clone, Debug)]
pub struct Ticks {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Cron {
        cron: Box<Cron>,
        tz: TimeZone,
        fixed: bool,
        dst: Dst,
    },
    Every {
        every_ms: u64,
        phase_ms: u64,
    },
}

impl Ticks {
    /// The calculator of `when` under `dst`.
    ///
    /// # Errors
    /// A cron expression or time zone that does not parse.
    pub fn new(when: &When, dst: Dst) -> Result<Self, ScheduleError> {
        let kind = match when {
            When::Cron { expr, tz } => {
                let cron = super::cron::parse(expr)?;
                let fixed = cron.determine_job_type() == JobType::FixedTime;
                Kind::Cron {
                    cron: Box::new(cron),
                    tz: super::cron::time_zone(tz)?,
                    fixed,
                    dst,
                }
            }
            When::Every { every_ms, phase_ms } => Kind::Every {
                every_ms: (*every_ms).max(1),
                phase_ms: *phase_ms % (*every_ms).max(1),
            },
        };
        Ok(Self { kind })
    }

    /// The first tick strictly after `after`; `None` if there is none (a cron expression that
    /// never matches again, like one pinned to a past year).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every { every_ms, phase_ms } => {
                let t = after.0;
                let n = if t < *phase_ms {
                    0
                } else {
                    (t - phase_ms) / every_ms + 1
                };
                n.checked_mul(*every_ms)?
                    .checked_add(*phase_ms)
                    .map(Timestamp)
            }
            Kind::Cron {
                cron,
                tz,
                fixed,
                dst,
            } => cron_next(cron, tz, *fixed, *dst, after),
        }
    }

    /// The next `n` ticks after `after`.
    pub fn upcoming(&self, after: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    /// The ticks in `(after, upto]`, oldest first, keeping only the newest `keep`; and how
    /// many there were in all (counting at most `limit`).
    pub fn between(
        &self,
        after: Timestamp,
        upto: Timestamp,
        keep: usize,
        limit: usize,
    ) -> (Vec<Timestamp>, usize) {
        let mut kept = std::collections::VecDeque::with_capacity(keep.min(1024));
        let mut count = 0;
        let mut t = after;
        while count < limit {
            match self.next_after(t) {
                Some(next) if next <= upto => {
                    count += 1;
                    if kept.len() == keep {
                        kept.pop_front();
                    }
                    if keep > 0 {
                        kept.push_back(next);
                    }
                    t = next;
                }
                _ => break,
            }
        }
        (kept.into_iter().collect(), count)
    }
}

fn to_jiff(t: Timestamp) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_millisecond(i64::try_from(t.0).ok()?).ok()
}

fn from_jiff(t: jiff::Timestamp) -> Option<Timestamp> {
    u64::try_from(t.as_millisecond()).ok().map(Timestamp)
}

/// The first wall-clock match strictly after `dt`.
fn next_civil(cron: &Cron, dt: DateTime) -> Option<DateTime> {
    cron.find_next_occurrence(&dt, false).ok()
}

/// The instants a wall-clock match stands for under the policy (0, 1 or 2, earliest first).
fn instants(tz: &TimeZone, fixed: bool, dst: Dst, dt: DateTime) -> Vec<jiff::Timestamp> {
    let Ok(naive) = TimeZone::UTC.to_timestamp(dt) else {
        return Vec::new();
    };
    let at = |offset: jiff::tz::Offset| {
        naive
            .checked_sub(SignedDuration::from_secs(i64::from(offset.seconds())))
            .ok()
    };
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => at(offset).into_iter().collect(),
        AmbiguousOffset::Gap { before, .. } => {
            if dst == Dst::Vixie && fixed {
                // The first instant after the gap: the transition itself, the last one at or
                // before this wall time read with the offset in force before the gap.
                at(before)
                    .and_then(|t| t.checked_add(SignedDuration::from_nanos(1)).ok())
                    .and_then(|t| tz.preceding(t).next())
                    .map(|tr| tr.timestamp())
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            }
        }
        AmbiguousOffset::Fold { before, after } => {
            let earlier = at(before);
            if dst == Dst::Vixie && fixed {
                earlier.into_iter().collect()
            } else {
                earlier.into_iter().chain(at(after)).collect()
            }
        }
    }
}

fn cron_next(
    cron: &Cron,
    tz: &TimeZone,
    fixed: bool,
    dst: Dst,
    after: Timestamp,
) -> Option<Timestamp> {
    let after_j = to_jiff(after)?;
    // Matches are whole seconds: the first candidate second is after the one `after` is in.
    let floor = jiff::Timestamp::from_second(after_j.as_second()).ok()?;
    let first = next_civil(cron, tz.to_datetime(floor))?;
    let found = instants(tz, fixed, dst, first);
    let quiet = |upto: jiff::Timestamp| {
        let from = after_j.checked_sub(MARGIN).ok();
        from.is_none_or(|from| {
            tz.following(from)
                .next()
                .is_none_or(|tr| tr.timestamp() > upto)
        })
    };
    let first_best = found.iter().copied().find(|t| *t > after_j);
    if let Some(best) = first_best {
        if best.checked_add(MARGIN).ok().is_some_and(quiet) {
            return from_jiff(best);
        }
    }
    // Near a transition: resolve every match from `shift` before `after` (a fold's second
    // pass has wall times earlier than `after`'s) until `shift` past the best found, where
    // `shift` is the largest offset change nearby.
    let upto = first_best.unwrap_or(after_j).checked_add(MARGIN).ok()?;
    let shift = shift_near(tz, after_j.checked_sub(MARGIN).ok()?, upto);
    let mut dt = tz.to_datetime(after_j.checked_sub(shift).ok()?);
    let mut best: Option<jiff::Timestamp> = None;
    let mut best_civil: Option<DateTime> = None;
    for _ in 0..MAX_SCAN {
        let Some(next) = next_civil(cron, dt) else {
            break;
        };
        if let Some(bc) = best_civil {
            if next > bc.checked_add(shift).ok()? {
                break;
            }
        }
        for t in instants(tz, fixed, dst, next) {
            if t > after_j && best.is_none_or(|b| t < b) {
                best = Some(t);
                best_civil = Some(tz.to_datetime(t).max(next));
            }
        }
        dt = next;
    }
    best.and_then(from_jiff)
}

/// The largest offset change of the transitions in `[from, upto]` (at most a few), plus a
/// second; at most [`MARGIN`].
fn shift_near(tz: &TimeZone, from: jiff::Timestamp, upto: jiff::Timestamp) -> SignedDuration {
    let mut largest: i64 = 0;
    for tr in tz.following(from).take(8) {
        if tr.timestamp() > upto {
            break;
        }
        let Ok(just_before) = tr.timestamp().checked_sub(SignedDuration::from_nanos(1)) else {
            continue;
        };
        let before = i64::from(tz.to_offset(just_before).seconds());
        let after = i64::from(tr.offset().seconds());
        largest = largest.max((after - before).abs());
    }
    SignedDuration::from_secs(largest + 1).min(MARGIN)
}
