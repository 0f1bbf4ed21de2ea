//! A worker process for the Redis crash tests: serves the `crash` queue of the server that
//! `TASKQ_URL` names until SIGTERM or Ctrl-C (or SIGKILL, which is the point).
//!
//! Environment: `TASKQ_URL`, `TASKQ_CONCURRENCY`, `CRASH_LEASE_MS` (lease duration, default
//! 1000), `WORKER_NAME` (returned by the tasks).

mod tasks;

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    // The `redis://` scheme comes from taskq-redis's link-time registration.
    use taskq_redis as _;

    let client = taskq::Client::from_env().await?;
    let lease = taskq_tests::lease_from_env("CRASH_LEASE_MS");
    let handle = taskq::Worker::builder()
        .from_env()?
        .client(client)
        .queues([tasks::QUEUE])
        .lease_duration(lease)
        .grace_period(Duration::from_secs(2))
        .spawn()?;
    taskq_tests::serve_until_signalled(handle).await
}
