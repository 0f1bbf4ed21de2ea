//! A worker process on Redis: serves the tasks of `taskq_examples::tasks` until Ctrl-C or
//! SIGTERM. Run it next to `redis_producer`, in another terminal or on another machine:
//!
//! ```sh
//! TASKQ_URL=redis://127.0.0.1:6379/0 cargo run -p taskq-examples --example redis_worker
//! TASKQ_URL=redis://127.0.0.1:6379/0 cargo run -p taskq-examples --example redis_producer
//! ```
//!
//! `TASKQ_URL` defaults to `redis://127.0.0.1:6379/0` here. `TASKQ_CONCURRENCY` and
//! `TASKQ_QUEUES` work as for any worker.

use taskq_examples as _;

/// Where Redis is when `TASKQ_URL` is unset.
const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let url = std::env::var(taskq::URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_owned());
    // Fails with the URL (password hidden) if Redis is not there.
    taskq::Client::set_global(taskq::Client::connect(&url).await?)?;
    tracing::info!(%url, "serving on Redis; Ctrl-C to stop");
    let report = taskq::worker::run().await?;
    tracing::info!(?report, "stopped");
    Ok(())
}
