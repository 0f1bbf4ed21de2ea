//! Rate and concurrency limits on Redis (see `taskq::flow`). A message with a gate has a line
//! in its queue's `gate` hash, written with the message; the fetch script reads the lines of
//! the ids it pops only when that hash exists, so queues without limits pay one `EXISTS`.
//!
//! Per queue, beside its other keys (one hash tag, one cluster slot):
//! - `gate`: hash, id → `<rate key>␟<interval µs>␟<concurrency key>␟<max>` (`␟` = U+001F;
//!   empty parts for a limit the task does not have);
//! - `rate:<key>`: string, the key's theoretical arrival time in µs of the server's clock
//!   (GCRA), expiring once it is in the past;
//! - `conc:<key>`: set of the ids holding a permit (leased);
//! - `cwait:<key>`: list of the ids waiting for a permit, oldest first.
//!
//! Every script that ends a lease releases the permit in the same run (`gate_release` in
//! `prelude.lua`): complete (and `complete_fast`, which hands a gated queue's batches to
//! `complete`), retry, release, dead letter, bury, and the fetch's reclaim of expired leases
//! (a SIGKILLed worker's permits come back with its leases).

use std::time::Duration;

use taskq::flow::{BreakerReport, BreakerSpec, BreakerState, Gate};
use taskq::{BackendError, Timestamp};

use super::Inner;
use crate::scripts;

/// The separator of a gate line's fields.
const SEP: char = '\u{1f}';

/// A gate as its line in the `gate` hash.
pub(super) fn gate_line(gate: &Gate) -> String {
    let mut line = String::new();
    if let Some(r) = &gate.rate {
        line.push_str(&r.key);
        line.push(SEP);
        line.push_str(&r.interval_us.to_string());
    } else {
        line.push(SEP);
    }
    line.push(SEP);
    if let Some(c) = &gate.concurrency {
        line.push_str(&c.key);
        line.push(SEP);
        line.push_str(&c.max.to_string());
    } else {
        line.push(SEP);
    }
    // flow: the breaker's key and probes (fields 5 and 6; older lines have four fields).
    if let Some(b) = &gate.breaker {
        line.push(SEP);
        line.push_str(&b.key);
        line.push(SEP);
        line.push_str(&b.spec.probes.to_string());
    }
    line
}

/// A breaker script's answer as a state.
fn state_of(reply: &[i64]) -> BreakerState {
    match reply {
        [1, until, ..] => BreakerState::Open {
            until: u64::try_from(*until).unwrap_or(0),
        },
        [2, left, ..] => BreakerState::HalfOpen {
            // -1: the cooldown is over and no probe has been counted yet.
            probes_left: u32::try_from(*left).unwrap_or(u32::MAX),
        },
        _ => BreakerState::Closed,
    }
}

impl Inner {
    /// Runs breaker.lua: the state after, and for a report the state before.
    async fn breaker(
        &self,
        queue: &str,
        key: &str,
        args: &[String],
    ) -> Result<(BreakerState, Option<BreakerState>), BackendError> {
        let k = self.keys(queue);
        let mut inv = scripts::BREAKER.prepare_invoke();
        inv.key(k.breaker(key)).key(k.breaker_failures(key));
        for a in args {
            inv.arg(a);
        }
        let reply: Vec<i64> = self.eval(&inv).await?;
        let before = reply.get(2..).map(state_of);
        Ok((state_of(&reply), before))
    }

    pub(super) async fn breaker_report(
        &self,
        queue: &str,
        key: &str,
        spec: &BreakerSpec,
        success: bool,
    ) -> Result<BreakerReport, BackendError> {
        let now = Timestamp::now().as_millis();
        let member = format!("{now}:{}", uuid::Uuid::new_v4().simple());
        let args = [
            "report".to_owned(),
            now.to_string(),
            if success { "1" } else { "0" }.to_owned(),
            spec.failures.to_string(),
            spec.within_ms.to_string(),
            spec.cooldown_ms.to_string(),
            member,
        ];
        let (after, before) = self.breaker(queue, key, &args).await?;
        Ok(BreakerReport {
            before: before.unwrap_or(after),
            after,
        })
    }

    pub(super) async fn set_breaker(
        &self,
        queue: &str,
        key: &str,
        open_for: Option<Duration>,
    ) -> Result<(), BackendError> {
        let now = Timestamp::now().as_millis().to_string();
        let args = match open_for {
            Some(d) => vec!["open".to_owned(), now, d.as_millis().to_string()],
            None => vec!["close".to_owned(), now],
        };
        self.breaker(queue, key, &args).await.map(|_| ())
    }

    pub(super) async fn breaker_state(
        &self,
        queue: &str,
        key: &str,
    ) -> Result<BreakerState, BackendError> {
        let now = Timestamp::now().as_millis().to_string();
        Ok(self.breaker(queue, key, &["read".to_owned(), now]).await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taskq::flow::{ConcurrencyGate, RateGate};

    #[test]
    fn lines_have_four_fields() {
        let both = Gate {
            rate: Some(RateGate {
                key: "t".into(),
                interval_us: 10_000,
            }),
            concurrency: Some(ConcurrencyGate {
                key: "t:ab".into(),
                max: 5,
            }),
            breaker: None,
        };
        assert_eq!(gate_line(&both), "t\u{1f}10000\u{1f}t:ab\u{1f}5");
        let rate = Gate {
            concurrency: None,
            ..both.clone()
        };
        assert_eq!(gate_line(&rate), "t\u{1f}10000\u{1f}\u{1f}");
        let conc = Gate { rate: None, ..both };
        assert_eq!(gate_line(&conc), "\u{1f}\u{1f}t:ab\u{1f}5");
    }
}
