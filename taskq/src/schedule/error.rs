//! What can be wrong with a schedule.

/// A schedule that cannot be built: its cron line, time zone, interval or jitter is invalid, or
/// its task cannot be encoded. Returned by the [`Schedule`](crate::Schedule) builder, never a
/// panic.
///
/// ```
/// let err = taskq::Schedule::cron("61 * * * *").unwrap_err();
/// assert!(matches!(err, taskq::schedule::ScheduleError::BadCron { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The cron expression does not parse (5 fields, or 6 with seconds first).
    #[error("bad cron expression `{expr}`: {reason}")]
    BadCron {
        /// The expression.
        expr: String,
        /// What the parser said.
        reason: String,
    },
    /// The time zone is not in the tz database.
    #[error("unknown time zone `{tz}`")]
    UnknownTimeZone {
        /// The name given.
        tz: String,
    },
    /// The interval does not parse or is zero (`"90s"`, `"15m"`, `"1h30m"`, `"500ms"`).
    #[error("bad interval `{text}`: {reason}")]
    BadInterval {
        /// The text given.
        text: String,
        /// Why.
        reason: &'static str,
    },
    /// A schedule id must be 1 to 200 characters, none of them whitespace or control.
    #[error("bad schedule id `{id}`: 1 to 200 characters, no whitespace")]
    BadId {
        /// The id given.
        id: String,
    },
    /// The task's arguments could not be encoded.
    #[error("the scheduled task cannot be encoded")]
    Encode(#[source] Box<crate::Error>),
    /// `catchup = "all"` needs a window and a cap above zero.
    #[error("bad catch-up policy: {0}")]
    BadCatchup(&'static str),
}
