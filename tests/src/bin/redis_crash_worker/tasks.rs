//! The tasks of the Redis crash tests, shared by the worker binary (which runs them) and the
//! tests (which send them, `#[path]`-included).

#![allow(dead_code)]

use std::time::Duration;

use tokio::sync::OnceCell;

/// The queue every crash-test task is on.
pub const QUEUE: &str = "crash";

static REDIS: OnceCell<Option<redis::aio::ConnectionManager>> = OnceCell::const_new();

/// Counts, in Redis itself, that a task body ran (`INCR key`): side effects are counted even
/// when the worker that ran them is killed before recording a result.
async fn count(key: &str) {
    let conn = REDIS
        .get_or_init(|| async {
            let url = std::env::var("TASKQ_URL").ok()?;
            let client = redis::Client::open(url).ok()?;
            redis::aio::ConnectionManager::new(client).await.ok()
        })
        .await;
    if let Some(conn) = conn {
        let mut conn = conn.clone();
        let r: Result<i64, _> = redis::cmd("INCR").arg(key).query_async(&mut conn).await;
        if let Err(e) = r {
            eprintln!("could not count {key}: {e}");
        }
    }
}

fn worker_name() -> String {
    std::env::var("WORKER_NAME").unwrap_or_default()
}

/// Counts its run, sleeps, and returns `n * 2` with the name of the worker that ran it.
#[taskq::task(name = "crash.work", queue = "crash", retries = 100)]
pub async fn work(n: u32, sleep_ms: u64) -> (u32, String) {
    count(&format!("crash:runs:{n}")).await;
    tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    (n * 2, worker_name())
}

/// Counts its start under `crash:started:{tag}`, sleeps `ms`, and names its worker.
#[taskq::task(name = "crash.slow", queue = "crash", retries = 100)]
pub async fn slow(tag: String, ms: u64) -> String {
    count(&format!("crash:started:{tag}")).await;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    worker_name()
}

/// A chord member: counts its run, sleeps `ms`, returns `n`.
#[taskq::task(name = "crash.chord_member", queue = "crash", retries = 100)]
pub async fn chord_member(n: u64, ms: u64) -> u64 {
    count(&format!("crash:chord_member_runs:{n}")).await;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    n
}

/// A chord callback: counts how often it runs (exactly once is the point), returns the sum.
#[taskq::task(name = "crash.chord_sum", queue = "crash", retries = 100)]
pub async fn chord_sum(values: Vec<u64>, tag: String) -> u64 {
    count(&format!("crash:chord_callbacks:{tag}")).await;
    values.iter().sum()
}
