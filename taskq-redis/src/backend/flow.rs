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

use taskq::flow::Gate;

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
    line
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
