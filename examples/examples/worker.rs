//! A worker binary: its whole main is `taskq::worker::run()`. It serves every `#[task]` linked
//! into it (here the ones in this package's library, `taskq_examples::tasks`), on the backend
//! `TASKQ_URL` names (`memory://` when unset; `redis://127.0.0.1:6379/0` with taskq-redis),
//! until Ctrl-C or SIGTERM.
//!
//! ```sh
//! TASKQ_URL=redis://127.0.0.1:6379/0 cargo run -p taskq-examples --example worker
//! ```

use taskq_examples as _;

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    taskq::worker::run().await?;
    Ok(())
}
