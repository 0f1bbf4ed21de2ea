//! Schedules declared with `#[task(cron = ..)]` are registered at link time, and a worker
//! stores and runs them (and the ones given to its builder) with no other code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use taskq::schedule::{Catchup, Dst, Overlap, When};

static DECLARED_RUNS: AtomicUsize = AtomicUsize::new(0);
static BUILT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[taskq::task(cron = "* * * * * *", overlap = "skip", queue = "declared")]
async fn every_second() {
    DECLARED_RUNS.fetch_add(1, Ordering::SeqCst);
}

#[taskq::task(
    cron = "0 9 * * MON-FRI",
    tz = "Europe/Berlin",
    catchup = "all",
    dst = "literal"
)]
async fn standup() {}

#[taskq::task(queue = "declared")]
async fn with_args(n: u32) {
    BUILT_RUNS.fetch_add(n as usize, Ordering::SeqCst);
}

#[test]
fn declared_schedules_are_linked_with_their_options() {
    let standup = taskq::schedule::linked()
        .find(|e| e.task.ends_with("standup"))
        .expect("linked");
    let spec = standup.spec().expect("valid");
    assert_eq!(
        spec.when,
        When::Cron {
            expr: "0 9 * * MON-FRI".into(),
            tz: "Europe/Berlin".into()
        }
    );
    assert!(matches!(spec.catchup, Catchup::All { .. }));
    assert_eq!(spec.dst, Dst::Literal);
    assert_eq!(spec.overlap, Overlap::Allow);
    let every = taskq::schedule::linked()
        .find(|e| e.task.ends_with("every_second"))
        .expect("linked")
        .spec()
        .expect("valid");
    assert_eq!(every.overlap, Overlap::Skip);
    assert_eq!(every.template.queue, "declared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_declared_and_built_schedules() {
    let client = taskq::Client::memory();
    let built = taskq::Schedule::every("1s")
        .and_then(|s| s.id("with-args"))
        .and_then(|s| s.run(with_args::new(10)))
        .expect("valid");
    let worker = taskq::Worker::builder()
        .client(client.clone())
        .schedule(built)
        .spawn()
        .expect("worker");
    tokio::time::sleep(Duration::from_millis(3_300)).await;
    worker.shutdown().await.expect("stopped");
    let declared = DECLARED_RUNS.load(Ordering::SeqCst);
    let built = BUILT_RUNS.load(Ordering::SeqCst);
    assert!(
        (2..=4).contains(&declared),
        "declared schedule ran {declared} times in 3.3 s"
    );
    assert!(
        (20..=40).contains(&built),
        "built schedule ran {} times in 3.3 s",
        built / 10
    );
    let stored = client.list_schedules().await.expect("listed");
    assert_eq!(stored.len(), 3, "{stored:?}");
}
