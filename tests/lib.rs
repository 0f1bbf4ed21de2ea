//! Cross-crate end-to-end tests of taskq live in `tests/`; this library holds what the tests'
//! worker processes (`src/bin/*`) share.

use std::time::Duration;

/// The lease, in milliseconds, that the environment variable `var` names (default 1000).
pub fn lease_from_env(var: &str) -> Duration {
    Duration::from_millis(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000),
    )
}

/// The whole main of a test worker process: a worker of the `TASKQ_*` environment serving
/// `queue` on `TASKQ_URL` (`redis://` and `sqlite://` linked in), its lease from `lease_var`, until signalled
/// (see [`serve_until_signalled`]).
///
/// # Errors
/// The client's, the worker's start or its shutdown.
pub async fn serve_queue(queue: &str, lease_var: &str) -> Result<(), taskq::Error> {
    use taskq_redis as _;
    use taskq_sqlite as _;
    let client = taskq::Client::from_env().await?;
    let handle = taskq::Worker::builder()
        .from_env()?
        .client(client)
        .queues([queue])
        .lease_duration(lease_from_env(lease_var))
        .grace_period(Duration::from_secs(2))
        .spawn()?;
    serve_until_signalled(handle).await
}

/// Runs a spawned worker as a process the tests drive: prints `ready`, waits for SIGTERM or
/// Ctrl-C (SIGKILL, the point of most of them, needs no handling), then shuts it down warm and
/// prints `stopped: <report>`.
///
/// # Errors
/// The worker's shutdown error.
pub async fn serve_until_signalled(handle: taskq::WorkerHandle) -> Result<(), taskq::Error> {
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
