//! The tasks of these tests, and a queue with a task in every state.

use std::time::Duration;

use taskq::canvas::Canvas;
use taskq::{Envelope, Payload, TaskId, TaskState, WorkerHandle};

use crate::harness::{eventually, Env};

/// The queue of the tasks below.
pub const QUEUE: &str = "cli";

#[taskq::task(name = "cli.add", queue = "cli")]
pub async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[taskq::task(name = "cli.fail", queue = "cli")]
pub async fn fail(message: String) -> Result<(), String> {
    Err(message)
}

/// Runs until revoked, or for `ms`.
#[taskq::task(name = "cli.hold", queue = "cli")]
pub async fn hold(ctx: taskq::Context, ms: u64) {
    tokio::select! {
        () = ctx.cancelled() => {}
        () = tokio::time::sleep(Duration::from_millis(ms)) => {}
    }
}

#[taskq::task(name = "cli.range", queue = "cli")]
pub async fn range(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task(name = "cli.total", queue = "cli")]
pub async fn total(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

/// Sums 1..=n in two steps; started by name from the CLI.
#[taskq::workflow(name = "cli.summed")]
pub fn summed(n: u32) -> impl Canvas<Output = u32> {
    range::new(n).then(total::partial())
}

/// A message for a task no worker has: the worker dead-letters it (`unknown_task`).
pub fn unknown(queue: &str) -> Envelope {
    Envelope::new(
        "cli.nope",
        queue,
        Payload::encode(&serde_json::json!({})).unwrap(),
    )
}

/// The ids of a task in each state, on queue [`QUEUE`] of a private Redis, and the worker
/// that runs (and holds) them.
pub struct Fixture {
    pub env: Env,
    pub worker: WorkerHandle,
    pub succeeded: TaskId,
    pub failed: TaskId,
    pub dead: TaskId,
    pub leased: TaskId,
    pub ready: [TaskId; 2],
    pub scheduled: TaskId,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let env = Env::start().await;
        let client = &env.client;
        let worker = env.worker(&[QUEUE]).await;

        let ok = client.send(add::new(2, 3)).await.unwrap();
        assert_eq!(ok.get_timeout(Duration::from_secs(10)).await.unwrap(), 5);
        let bad = client.send(fail::new("boom".into())).await.unwrap();
        assert!(bad.get_timeout(Duration::from_secs(10)).await.is_err());
        let poison = unknown(QUEUE);
        let dead = poison.id;
        client.send_envelopes(vec![poison]).await.unwrap();
        let dead_handle = client.result::<serde_json::Value>(dead);
        assert!(dead_handle
            .get_timeout(Duration::from_secs(10))
            .await
            .is_err());

        // The worker runs one task at a time and holds none more: this one keeps it busy.
        let leased = client.send(hold::new(60_000)).await.unwrap().id();
        eventually("the hold task runs", || async {
            client.result::<()>(leased).state().await.unwrap() == TaskState::Running
        })
        .await;
        // ... and its next heartbeat says so (the worker of a leased task is found by it).
        eventually("the heartbeat names the hold task", || async {
            let workers = client.workers().await.unwrap();
            workers
                .iter()
                .any(|w| w.running.iter().any(|t| t.id == leased))
        })
        .await;
        let ready = [
            client.send(add::new(1, 1)).await.unwrap().id(),
            client.send(add::new(2, 2)).await.unwrap().id(),
        ];
        let scheduled = client
            .send(add::new(3, 3).countdown(Duration::from_secs(3_600)))
            .await
            .unwrap()
            .id();
        Fixture {
            succeeded: ok.id(),
            failed: bad.id(),
            dead,
            leased,
            ready,
            scheduled,
            worker,
            env,
        }
    }

    /// Stops the worker (the held task is cancelled).
    pub async fn stop(self) {
        self.worker.stop_now().await.unwrap();
    }
}
