//! apalis's side of the comparison that its worker binary needs too: the job type, the storage
//! and the worker.

use std::time::Duration;

use apalis::prelude::*;
use apalis_redis::{Config, RedisStorage};
use serde::{Deserialize, Serialize};

use super::worker_common::{wall_ns, BoxError};

pub const QUEUE: &str = "cmp-apalis";
/// The idle poll interval of the worker.
pub const POLL_MS: u64 = 5;

/// The task's argument: a no-op returning `n`, or a start-time stamp.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Job {
    Noop(u64),
    Stamp(u64),
}

async fn run_job(job: Job) -> Result<u64, BoxDynError> {
    Ok(match job {
        Job::Noop(n) => n,
        Job::Stamp(sent) => wall_ns().saturating_sub(sent),
    })
}

pub fn config(queue: &str) -> Config {
    Config::default().queue(queue).batch_size(100)
}

pub async fn storage(url: &str, queue: &str) -> Result<RedisStorage<Job>, BoxError> {
    let conn = apalis_redis::connect(url).await?;
    Ok(RedisStorage::new(conn).with_config(config(queue)))
}

/// The worker process.
pub async fn worker(url: &str, concurrency: usize) -> Result<(), BoxError> {
    // A plain `RedisStorage` worker parks on an empty queue; `poll_with_interval` (apalis's
    // documented `BackendExt` wake-up) re-polls it. The `RedisStorageFactory` pub/sub wake-up
    // was tried first and did not wake an idle worker here (see docs/benchmarks.md).
    let storage = storage(url, QUEUE)
        .await?
        .poll_with_interval(Duration::from_millis(POLL_MS));
    let worker = WorkerBuilder::new(format!("cmp-apalis-{}", std::process::id()))
        .backend(storage)
        .concurrency(concurrency)
        .build(run_job);
    worker.run().await?;
    Ok(())
}
