//! A worker process for the SQLite process and crash tests: serves the `sq` queue of the file
//! that `TASKQ_URL` names until SIGTERM or Ctrl-C (or SIGKILL, which is the point).
//!
//! Environment: `TASKQ_URL` (`sqlite:///...`), `TASKQ_CONCURRENCY`, `SQ_LEASE_MS` (lease
//! duration, default 1000), `WORKER_NAME` (returned by the tasks), `SQ_RUN_LOG` (a file each
//! run appends a line to).

mod tasks;

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    taskq_tests::serve_queue(tasks::QUEUE, "SQ_LEASE_MS").await
}
