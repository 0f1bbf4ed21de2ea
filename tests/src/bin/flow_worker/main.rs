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
    let lease = std::env::var("FLOW_LEASE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let handle = taskq::Worker::builder()
        .from_env()?
        .client(client)
        .queues([tasks::QUEUE])
        .lease_duration(Duration::from_millis(lease))
        .grace_period(Duration::from_secs(2))
        .spawn()?;
    println!("ready");
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    let report = handle.shutdown().await?;
    println!("stopped: {report:?}");
    Ok(())
}
