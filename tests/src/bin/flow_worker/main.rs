//! A worker process for the Redis flow-control tests: serves the `flow` queue of the server
//! that `TASKQ_URL` names until SIGTERM or Ctrl-C (or SIGKILL).
//!
//! Environment: `TASKQ_URL`, `TASKQ_CONCURRENCY`, `FLOW_LEASE_MS` (lease duration, default
//! 1000), `WORKER_NAME`.

mod tasks;

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    // The `redis://` scheme comes from taskq-redis's link-time registration.
    use taskq_redis as _;

    let client = taskq::Client::from_env().await?;
    let lease = taskq_tests::lease_from_env("FLOW_LEASE_MS");
    let handle = taskq::Worker::builder()
        .from_env()?
        .client(client)
        .queues([tasks::QUEUE])
        .lease_duration(lease)
        .grace_period(Duration::from_secs(2))
        .spawn()?;
    taskq_tests::serve_until_signalled(handle).await
}
