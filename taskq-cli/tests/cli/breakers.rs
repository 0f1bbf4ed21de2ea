//! `taskq breaker status|open|close` against a private Redis, with a worker running a task
//! that has a circuit breaker.

use std::time::Duration;

use taskq::TaskState;

use crate::harness::{eventually, Env};

const QUEUE: &str = "brk-cli";

/// Fails when told to; its breaker opens after two failures.
#[taskq::task(
    name = "cli.guarded",
    queue = "brk-cli",
    circuit_breaker(failures = 2, within = "1m", cooldown = "1h")
)]
async fn guarded(fail: bool) -> Result<u32, String> {
    if fail {
        Err("upstream down".into())
    } else {
        Ok(7)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_opens_after_failures_and_is_forced_closed_and_open() {
    let env = Env::start().await;
    let run = env
        .taskq(&[
            "breaker",
            "status",
            "cli.guarded",
            "--queue",
            QUEUE,
            "--json",
        ])
        .await
        .ok();
    assert_eq!(run.json()["state"], "closed", "{}", run.stdout);

    let worker = env.worker(&[QUEUE]).await;
    for _ in 0..2 {
        let failed = env.client.send(guarded::new(true)).await.unwrap();
        assert!(failed.get().await.is_err());
    }
    let run = env
        .taskq(&[
            "breaker",
            "status",
            "cli.guarded",
            "--queue",
            QUEUE,
            "--json",
        ])
        .await
        .ok();
    assert_eq!(
        run.json()["state"],
        "open",
        "two failures open it: {}",
        run.stdout
    );

    // Open: a new task waits in the queue, not started.
    let held = env.client.send(guarded::new(false)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Deferred by the fetch, never started: queued or scheduled, not running.
    let state = held.state().await.unwrap();
    assert!(
        matches!(state, TaskState::Pending | TaskState::Scheduled),
        "{state:?}"
    );

    let run = env
        .taskq(&["breaker", "close", "cli.guarded", "--queue", QUEUE])
        .await
        .ok();
    assert!(run.stdout.contains("closed"), "{}", run.stdout);
    assert_eq!(held.get().await.unwrap(), 7);

    let run = env
        .taskq(&[
            "breaker",
            "open",
            "cli.guarded",
            "--queue",
            QUEUE,
            "--for",
            "10m",
        ])
        .await
        .ok();
    assert!(run.stdout.contains("open until"), "{}", run.stdout);
    let blocked = env.client.send(guarded::new(false)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let state = blocked.state().await.unwrap();
    assert!(
        matches!(state, TaskState::Pending | TaskState::Scheduled),
        "{state:?}"
    );
    env.taskq(&["breaker", "close", "cli.guarded", "--queue", QUEUE])
        .await
        .ok();
    eventually("the task runs once the breaker is closed", || async {
        blocked.state().await.unwrap() == TaskState::Succeeded
    })
    .await;

    let bad = env
        .taskq(&["breaker", "open", "cli.guarded", "--for", "soon"])
        .await;
    assert_eq!(bad.code, 2, "{bad:#?}");
    worker.shutdown().await.unwrap();
}
