//! Unique tasks on the in-memory backend under a real worker: concurrent sends from many tokio
//! tasks on two threads make one task; a retrying task keeps its key; a task that fails for
//! good releases it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use taskq::unique::Enqueued;
use taskq::{Client, TaskState, Worker};

#[taskq::task(queue = "uniq-mem", unique_for = "1m")]
async fn refresh(account: u32) -> u32 {
    account
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_from_many_tasks_make_one() {
    let client = Client::memory();
    let joins: Vec<_> = (0..64)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { refresh(1).delay_on(&c).await })
        })
        .collect();
    let mut new = 0;
    let mut ids = std::collections::HashSet::new();
    for j in joins {
        let h = j.await.unwrap().unwrap();
        ids.insert(h.id());
        if h.enqueued() == Enqueued::New {
            new += 1;
        }
    }
    assert_eq!((new, ids.len()), (1, 1));
    let stats = client.backend().queue_stats("uniq-mem").await.unwrap();
    assert_eq!(stats.ready, 1);
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Fails its first attempt, then fails for good on its second (or succeeds when `ok`).
#[taskq::task(
    queue = "uniq-retry",
    unique_for = "1m",
    retries = 1,
    backoff = "200ms",
    jitter = false
)]
async fn flaky(ok: bool) -> Result<(), String> {
    if FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) == 0 || !ok {
        return Err("not yet".into());
    }
    Ok(())
}

#[tokio::test]
async fn retrying_keeps_the_key_and_final_failure_releases_it() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["uniq-retry"])
        .spawn()
        .unwrap();
    let first = flaky(false).delay_on(&client).await.unwrap();
    // Wait for the first failure: the task then waits for its retry.
    for _ in 0..200 {
        if FLAKY_RUNS.load(Ordering::SeqCst) >= 1
            && first.state().await.unwrap() != TaskState::Running
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let during = flaky(false).delay_on(&client).await.unwrap();
    assert_eq!(during.enqueued(), Enqueued::Existing, "held while retrying");
    assert_eq!(during.id(), first.id());
    assert!(first.get().await.is_err(), "fails for good");
    let after = flaky(false).delay_on(&client).await.unwrap();
    assert_eq!(
        after.enqueued(),
        Enqueued::New,
        "released by the final failure"
    );
    assert!(after.get().await.is_err());
    worker.shutdown().await.unwrap();
}
