//! The apalis worker process of `--compare` (started by the harness): a binary that holds only
//! apalis, as a user's worker binary would, so its resident memory is its own.

#[path = "../compare/worker_common.rs"]
mod worker_common;

#[path = "../compare/tasks_apalis.rs"]
mod tasks_apalis;

fn main() -> std::process::ExitCode {
    worker_common::main(|url, concurrency| {
        Box::pin(async move { tasks_apalis::worker(&url, concurrency).await })
    })
}
