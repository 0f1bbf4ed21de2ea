//! `Worker::builder().from_env()`: `TASKQ_QUEUES`, `TASKQ_CONCURRENCY` and `TASKQ_PREFETCH`
//! decide what a worker takes, and a bad value is a clear error. (Its own test binary: it sets
//! the process's environment.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use taskq::{Client, ConfigError, Error, Worker};
use tokio::time::Instant;

static OPEN: AtomicBool = AtomicBool::new(false);

#[taskq::task(queue = "env-q")]
async fn waits() {
    while !OPEN.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_sets_queues_concurrency_and_prefetch() {
    std::env::set_var("TASKQ_PREFETCH", "many");
    let err = Worker::builder().from_env().unwrap_err();
    match err {
        Error::Config(ConfigError::BadEnv { name, value, .. }) => {
            assert_eq!((name, value.as_str()), ("TASKQ_PREFETCH", "many"));
        }
        other => panic!("expected a bad-environment error, got {other}"),
    }

    std::env::set_var("TASKQ_QUEUES", "env-q");
    std::env::set_var("TASKQ_CONCURRENCY", "1");
    std::env::set_var("TASKQ_PREFETCH", "2");
    let client = Client::memory();
    let handles = client
        .send_many((0..5).map(|_| waits::new()))
        .await
        .unwrap();
    let worker = Worker::builder()
        .from_env()
        .unwrap()
        .client(client.clone())
        .spawn()
        .unwrap();
    // One running and two held: three leased, the other two still queued.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = client.backend().queue_stats("env-q").await.unwrap();
        if (stats.running, stats.ready) == (3, 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expected 3 leased and 2 ready: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = client.backend().queue_stats("env-q").await.unwrap();
    assert_eq!(
        (stats.running, stats.ready),
        (3, 2),
        "took more than it may hold"
    );
    OPEN.store(true, Ordering::SeqCst);
    for h in handles {
        h.get_timeout(Duration::from_secs(5)).await.unwrap();
    }
    let report = worker.shutdown().await.unwrap();
    assert_eq!(report.succeeded, 5);
}
