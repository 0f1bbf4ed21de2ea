//! Every option at once.

use std::time::Duration;

use taskq::{Backoff, Task, TaskOptions};

#[taskq::task(
    name = "billing.charge-v2:eu",
    queue = "billing.eu",
    priority = 9,
    retries = 4,
    backoff = "250ms",
    backoff_max = "1m30s",
    jitter = false,
    timeout = "2h",
    result_ttl = "7d",
    crate = "::taskq"
)]
async fn charge(cents: u64) -> u64 {
    cents
}

#[taskq::task(
    max_attempts = 1000,
    priority = 0,
    ignore_result = true,
    backoff_max = "1d"
)]
fn fire_and_forget() {}

#[taskq::task(ignore_result, jitter = true)]
async fn flags() {}

#[taskq::task(ignore_result = false, result_ttl = "1s")]
async fn kept() {}

fn main() {
    assert_eq!(<charge as Task>::NAME, "billing.charge-v2:eu");
    assert_eq!(
        <charge as Task>::OPTIONS,
        TaskOptions {
            queue: "billing.eu",
            priority: 9,
            max_attempts: 5,
            backoff: Backoff {
                base_ms: 250,
                cap_ms: 90_000,
                jitter: false
            },
            timeout: Some(Duration::from_secs(7200)),
            result_ttl: Some(Duration::from_secs(7 * 24 * 3600)),
            ..TaskOptions::DEFAULT
        }
    );

    let o = <fire_and_forget as Task>::OPTIONS;
    assert_eq!((o.max_attempts, o.priority, o.result_ttl), (1000, 0, None));
    assert_eq!(o.backoff.cap_ms, 86_400_000);
    assert_eq!(o.backoff.base_ms, TaskOptions::DEFAULT.backoff.base_ms);
    assert_eq!(o.queue, TaskOptions::DEFAULT.queue);
    assert_eq!(o.timeout, None);

    assert_eq!(
        <kept as Task>::OPTIONS.result_ttl,
        Some(Duration::from_secs(1))
    );
    let _ = (fire_and_forget::new(), flags::new());
}
