//! A worker process for the Redis flow-control tests: serves the `flow` queue of the server
//! that `TASKQ_URL` names until SIGTERM or Ctrl-C (or SIGKILL).
//!
//! Environment: `TASKQ_URL`, `TASKQ_CONCURRENCY`, `FLOW_LEASE_MS` (lease duration, default
//! 1000), `WORKER_NAME`.

mod tasks;

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    taskq_tests::serve_queue(tasks::QUEUE, "FLOW_LEASE_MS").await
}
