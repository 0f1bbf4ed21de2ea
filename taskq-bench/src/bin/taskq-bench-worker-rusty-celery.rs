//! The rusty_celery worker process of `--compare` (started by the harness): a binary that holds only
//! rusty_celery, as a user's worker binary would, so its resident memory is its own.

#[path = "../compare/worker_common.rs"]
mod worker_common;

#[path = "../compare/tasks_rusty_celery.rs"]
mod tasks_rusty_celery;

fn main() -> std::process::ExitCode {
    worker_common::main(|url, concurrency| {
        Box::pin(async move { tasks_rusty_celery::worker(&url, concurrency).await })
    })
}
