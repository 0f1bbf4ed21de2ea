//! The tasks of the Redis flow-control tests, shared by the worker binary (which runs them)
//! and the tests (which send them, `#[path]`-included).

#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::OnceCell;

/// The queue every flow-test task is on.
pub const QUEUE: &str = "flow";

/// The rate limit of [`rated`], per second.
pub const RATE: u64 = 200;

static REDIS: OnceCell<Option<redis::aio::ConnectionManager>> = OnceCell::const_new();

/// Runs `cmd` on the test's Redis (the one `TASKQ_URL` names); errors are printed, not fatal.
async fn record(cmd: &mut redis::Cmd) {
    let conn = REDIS
        .get_or_init(|| async {
            let url = std::env::var("TASKQ_URL").ok()?;
            let client = redis::Client::open(url).ok()?;
            redis::aio::ConnectionManager::new(client).await.ok()
        })
        .await;
    if let Some(conn) = conn {
        let mut conn = conn.clone();
        let r: Result<redis::Value, _> = cmd.query_async(&mut conn).await;
        if let Err(e) = r {
            eprintln!("could not record: {e}");
        }
    }
}

/// Limited to [`RATE`] per second across the fleet: records its start (µs since the epoch,
/// this machine's clock, which every worker process shares) in the list `flow:starts`.
#[taskq::task(name = "flow.rated", queue = "flow", rate_limit = "200/s")]
pub async fn rated(n: u32) -> u32 {
    let us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    record(redis::cmd("RPUSH").arg("flow:starts").arg(us.to_string())).await;
    n
}

/// At most two running across the fleet. On worker `a` it hangs (so that killing `a` leaves
/// its permits with its leases); elsewhere it takes 20 ms. Counts its runs in `flow:capped`.
#[taskq::task(name = "flow.capped", queue = "flow", concurrency = 2, retries = 10)]
pub async fn capped(n: u32) -> u32 {
    record(redis::cmd("INCR").arg("flow:capped")).await;
    let hang = std::env::var("WORKER_NAME").is_ok_and(|w| w == "a");
    let ms = if hang { 600_000 } else { 20 };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    n
}
