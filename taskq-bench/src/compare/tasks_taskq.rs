//! taskq's side of the comparison that its worker binary needs too: the tasks and the worker.

use taskq::{Client, Worker};
// Linked for its `redis://` scheme, which `Client::connect` looks up by URL.
use taskq_redis as _;

use super::worker_common::{wall_ns, BoxError};

/// A no-op task: returns its argument (the result is stored and checked).
#[taskq::task(name = "cmp.noop", queue = "cmp")]
pub async fn noop(n: u64) -> u64 {
    n
}

/// Returns how long after `sent_ns` (wall clock) it started.
#[taskq::task(name = "cmp.stamp", queue = "cmp")]
pub async fn stamp(sent_ns: u64) -> u64 {
    wall_ns().saturating_sub(sent_ns)
}

/// The worker process: serves `cmp` at `concurrency` until killed. It may hold 64 tasks per
/// slot, the same lead as Celery's `worker_prefetch_multiplier = 64` here (taskq's docs: raise
/// `prefetch` for many short tasks).
pub async fn worker(url: &str, concurrency: usize) -> Result<(), BoxError> {
    let client = Client::connect(url).await?;
    // `TASKQ_BENCH_PREFETCH_PER_SLOT` overrides the 63 held per slot, for trying settings.
    let per_slot = std::env::var("TASKQ_BENCH_PREFETCH_PER_SLOT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(63);
    let _handle = Worker::builder()
        .client(client)
        .queues(["cmp"])
        .concurrency(concurrency)
        .prefetch(per_slot * concurrency)
        .from_env()?
        .spawn()?;
    std::future::pending::<()>().await;
    Ok(())
}
