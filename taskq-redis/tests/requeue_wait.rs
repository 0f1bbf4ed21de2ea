//! A task requeued from the dead letters is waited for again: `AsyncResult::get` after the
//! requeue answers with the new run's outcome, not the dead-lettered one this instance was told
//! before, whether the requeue came from this instance or from another one (a CLI, a dashboard).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use taskq::backend::{Backend, DeadSelection};
use taskq::{Client, Error, TaskState, Worker};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

static RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails on odd runs, succeeds (slowly) on even ones.
#[taskq::task(name = "requeue.flaky", queue = "requeue", retries = 0)]
async fn flaky(x: u32) -> Result<u32, std::io::Error> {
    if RUNS.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
        return Err(std::io::Error::other("first run fails"));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    Ok(x * 2)
}

async fn connect(server: &RedisServer) -> RedisBackend {
    RedisBackend::connect(&server.url())
        .await
        .expect("connect to the private redis-server")
}

async fn wait_dead(other: &RedisBackend, id: taskq::TaskId) {
    for _ in 0..200 {
        let state = other.record(id).await.expect("record").map(|r| r.state);
        if state == Some(TaskState::Failed) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {id} did not fail");
}

async fn requeue_then_get(requeue_here: bool) {
    let server = RedisServer::start();
    let sender = Client::new(std::sync::Arc::new(connect(&server).await));
    let other = connect(&server).await;
    let worker = Worker::builder()
        .client(Client::new(std::sync::Arc::new(connect(&server).await)))
        .queues(["requeue"])
        .spawn()
        .expect("spawn a worker");

    // Sent by `sender`, whose subscription is told the dead-lettered outcome while nobody waits.
    let handle = sender.send(flaky::new(21)).await.expect("send");
    wait_dead(&other, handle.id()).await;
    assert_eq!(
        other.dead_letters("requeue", 10).await.expect("dead").len(),
        1
    );
    tokio::time::sleep(Duration::from_millis(100)).await;

    let by: &dyn Backend = if requeue_here {
        sender.backend().as_ref()
    } else {
        &other
    };
    let moved = by
        .requeue_dead("requeue", &DeadSelection::All, 10)
        .await
        .expect("requeue");
    assert_eq!(moved, 1);
    // Give another instance's `requeued` notification time to arrive, as a person would.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let value: Result<u32, Error> = handle.get().await;
    assert_eq!(
        value.expect("the second run's value, not the first run's failure"),
        42
    );
    worker.shutdown().await.expect("stop the worker");
}

// One test: both cases count runs of the same task, so they must not run at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_after_a_requeue_waits_for_the_new_run() {
    // Requeued by the instance that sent it and was told the dead-lettered outcome.
    requeue_then_get(true).await;
    // Requeued by another instance: told through the script's `requeued` notification.
    requeue_then_get(false).await;
}
