//! A worker process for the Redis crash tests: serves the `crash` queue of the server that
//! `TASKQ_URL` names until SIGTERM or Ctrl-C (or SIGKILL, which is the point).
//!
//! Environment: `TASKQ_URL`, `TASKQ_CONCURRENCY`, `CRASH_LEASE_MS` (lease duration, default
//! 1000), `WORKER_NAME` (returned by the tasks).

mod tasks;

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    taskq_tests::serve_queue(tasks::QUEUE, "CRASH_LEASE_MS").await
}
