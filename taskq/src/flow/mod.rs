//! Flow control across a fleet: rate limits and concurrency limits, enforced by the backend in
//! the step that hands tasks to workers.
//!
//! ```
//! #[taskq::task(rate_limit = "100/s", rate_limit_key = "customer", concurrency = 5)]
//! async fn sync_customer(customer: u64) -> u64 {
//!     customer
//! }
//!
//! let o = <sync_customer as taskq::Task>::OPTIONS;
//! assert_eq!(o.rate_limit.map(|r| r.interval_us), Some(10_000));
//! assert_eq!(o.concurrency.map(|c| c.max), Some(5));
//! ```
//!
//! - **Rate limits** (`rate_limit = "100/s"`, `"1000/m"`, `"10/h"`) use GCRA: one "theoretical
//!   arrival time" per key, pushed forward by one emission interval (a second divided by 100)
//!   per admitted task. A task fetched before its key's next slot is not started: it goes back
//!   to the queue's delayed set, due at the instant the slot frees, so it holds no worker slot,
//!   uses no attempt, and nothing polls for it. The fetch goes on with the next candidate.
//! - **Concurrency limits** (`concurrency = 5`) allow at most that many leased tasks per key
//!   across the fleet. A task over the limit waits in a per-key list, holding no slot; when a
//!   holder ends (success, failure, retry, release, dead letter, or its lease expires because
//!   its worker died), the next waiter goes back to the front of its queue.
//! - **Keys**: the task's name, or with `rate_limit_key = "arg"` / `concurrency_key = "arg"`
//!   the task's name and the value of that argument (`"customer_id"`), so each customer has its
//!   own limit. The macro checks that the argument exists.
//!
//! Limits hold per queue (a task sent to two queues has a limit in each), and a message
//! carries its gate ([`Gate`]) from the moment it is sent: a limit changed in code applies to
//! the messages sent after the change.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::message::Payload;

/// `#[task(rate_limit = "..")]`: at most one run per `interval_us` per key, across the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// The emission interval: a second divided by the rate per second, in microseconds.
    pub interval_us: u64,
    /// The argument whose value keys the limit; `None`: one limit for the task.
    pub key: Option<&'static str>,
}

/// `#[task(concurrency = N)]`: at most `max` running per key, across the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConcurrencyLimit {
    /// How many may run at once.
    pub max: u32,
    /// The argument whose value keys the limit; `None`: one limit for the task.
    pub key: Option<&'static str>,
}

/// `#[task(circuit_breaker(failures = 5, within = "1m", cooldown = "30s"))]`: once `failures`
/// attempts of the task fail within `within`, fleet-wide, workers start none of its tasks for
/// `cooldown` (they stay queued, using no attempts); then at most `probes` run, and the first
/// result decides: a success closes the breaker, a failure opens it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerSpec {
    /// Failed attempts that open it.
    pub failures: u32,
    /// The window they are counted in, in milliseconds.
    pub within_ms: u64,
    /// How long it stays open, in milliseconds.
    pub cooldown_ms: u64,
    /// How many tasks may run while it is half-open, across the fleet.
    pub probes: u32,
}

/// A breaker's state, as [`crate::backend::Backend::breaker_state`] tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
#[non_exhaustive]
pub enum BreakerState {
    /// Tasks run.
    Closed,
    /// No task starts until `until` (milliseconds since the epoch).
    Open {
        /// When the cooldown ends.
        until: u64,
    },
    /// The cooldown is over: `probes_left` more may start before one of them reports.
    HalfOpen {
        /// How many probes may still start.
        probes_left: u32,
    },
}

/// What one report did to a breaker, as [`crate::backend::Backend::breaker_report`] answers
/// it: the state just before the report and just after, read in the same atomic step, so
/// exactly one report of a fleet sees each transition.
///
/// ```
/// use taskq::flow::{BreakerReport, BreakerState};
/// let r = BreakerReport { before: BreakerState::Closed, after: BreakerState::Open { until: 1 } };
/// assert!(r.opened() && !r.closed());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerReport {
    /// The state before the report.
    pub before: BreakerState,
    /// The state after it.
    pub after: BreakerState,
}

impl BreakerReport {
    /// Whether this report opened the breaker (from closed, or again from half-open).
    pub fn opened(&self) -> bool {
        matches!(self.after, BreakerState::Open { .. })
            && !matches!(self.before, BreakerState::Open { .. })
    }

    /// Whether this report closed the breaker (a half-open probe that succeeded).
    pub fn closed(&self) -> bool {
        self.after == BreakerState::Closed && self.before != BreakerState::Closed
    }
}

/// A message's limits, as the backend reads them: filled in by the client from the task's
/// options when it is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    /// The rate limit: its key and emission interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateGate>,
    /// The concurrency limit: its key and maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<ConcurrencyGate>,
    /// The circuit breaker: its key (the task's name) and policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerGate>,
}

/// The breaker part of a [`Gate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerGate {
    /// The breaker's key: the task's name.
    pub key: String,
    /// Its policy (what the worker reports against).
    pub spec: BreakerSpec,
}

/// The rate part of a [`Gate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateGate {
    /// The limit's key (`task` or `task:<digest of the key argument>`).
    pub key: String,
    /// At most one admission per this many microseconds.
    pub interval_us: u64,
}

/// The concurrency part of a [`Gate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcurrencyGate {
    /// The limit's key (`task` or `task:<digest of the key argument>`).
    pub key: String,
    /// How many may be leased at once.
    pub max: u32,
}

/// A rate that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a rate: write `<count>/<s|m|h>` with a count of at least 1, like \"100/s\" or \"1000/m\", at most 1,000,000 per second")]
pub struct RateError {
    /// What was given.
    pub text: String,
}

/// Parses `"100/s"`, `"1000/m"`, `"10/h"` (also `sec`, `min`, `hour`) into the emission
/// interval in microseconds.
///
/// ```
/// assert_eq!(taskq::flow::parse_rate("100/s"), Ok(10_000));
/// assert_eq!(taskq::flow::parse_rate("60/m"), Ok(1_000_000));
/// assert!(taskq::flow::parse_rate("fast").is_err());
/// ```
///
/// # Errors
/// [`RateError`] for anything else, a zero count, or more than a million per second.
pub fn parse_rate(text: &str) -> Result<u64, RateError> {
    let bad = || RateError {
        text: text.to_owned(),
    };
    let (count, unit) = text.split_once('/').ok_or_else(bad)?;
    let count: u64 = count.trim().replace('_', "").parse().map_err(|_| bad())?;
    let period_us: u64 = match unit.trim() {
        "s" | "sec" | "second" => 1_000_000,
        "m" | "min" | "minute" => 60_000_000,
        "h" | "hour" => 3_600_000_000,
        _ => return Err(bad()),
    };
    if count == 0 {
        return Err(bad());
    }
    let interval = period_us / count;
    if interval == 0 {
        return Err(bad());
    }
    Ok(interval)
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_s = 1_000_000.0 / self.interval_us as f64;
        write!(f, "{per_s}/s")
    }
}

impl RateLimit {
    /// The rate per second.
    ///
    /// ```
    /// let r = taskq::flow::RateLimit { interval_us: 10_000, key: None };
    /// assert_eq!(r.per_second(), 100.0);
    /// ```
    pub fn per_second(&self) -> f64 {
        1_000_000.0 / self.interval_us as f64
    }

    /// The emission interval.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(self.interval_us)
    }
}

/// The key of a limit of task `task`: the task's name, or with `arg`, the name and a digest
/// of that argument's JSON value (a missing argument keys as `null`).
pub(crate) fn key_of(task: &str, arg: Option<&str>, args: &Payload) -> String {
    let Some(arg) = arg else {
        return task.to_owned();
    };
    let value = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(args.as_str())
        .ok()
        .and_then(|mut m| m.remove(arg))
        .unwrap_or(serde_json::Value::Null);
    let text = value.to_string();
    let digest = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, text.as_bytes());
    format!("{task}:{}", digest.simple())
}

/// The gate of a message of task `task` with `rate` and `concurrency` limits.
pub(crate) fn gate_for(
    task: &str,
    rate: Option<RateLimit>,
    concurrency: Option<ConcurrencyLimit>,
    breaker: Option<BreakerSpec>,
    args: &Payload,
) -> Option<Gate> {
    if rate.is_none() && concurrency.is_none() && breaker.is_none() {
        return None;
    }
    Some(Gate {
        rate: rate.map(|r| RateGate {
            key: key_of(task, r.key, args),
            interval_us: r.interval_us,
        }),
        concurrency: concurrency.map(|c| ConcurrencyGate {
            key: key_of(task, c.key, args),
            max: c.max,
        }),
        breaker: breaker.map(|b| BreakerGate {
            key: task.to_owned(),
            spec: BreakerSpec {
                probes: b.probes.max(1),
                ..b
            },
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_into_intervals() {
        assert_eq!(parse_rate("1/s"), Ok(1_000_000));
        assert_eq!(parse_rate("1000/m"), Ok(60_000));
        assert_eq!(parse_rate("10/h"), Ok(360_000_000));
        assert_eq!(parse_rate("1_000_000/s"), Ok(1));
        for bad in ["0/s", "10", "10/d", "x/s", "2000000/s", "-1/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_follow_the_key_argument() {
        let a = Payload::encode(&serde_json::json!({"customer": 7, "n": 1})).unwrap();
        let b = Payload::encode(&serde_json::json!({"customer": 7, "n": 2})).unwrap();
        let c = Payload::encode(&serde_json::json!({"customer": 8, "n": 1})).unwrap();
        assert_eq!(key_of("t", None, &a), "t");
        assert_eq!(
            key_of("t", Some("customer"), &a),
            key_of("t", Some("customer"), &b)
        );
        assert_ne!(
            key_of("t", Some("customer"), &a),
            key_of("t", Some("customer"), &c)
        );
        assert!(key_of("t", Some("customer"), &a).starts_with("t:"));
    }
}
