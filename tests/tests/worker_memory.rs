//! The worker on the in-memory backend: retries, timeouts, panics, shutdown, dead letters,
//! results, priorities, delays, revocation and concurrency.
//!
//! Tests that wait on time run with tokio's clock paused, so a 60-second countdown takes no
//! real time and the assertions on delays are exact.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use taskq::{
    Client, Context, DeadLetterReason, Envelope, Error, FailureKind, Payload, TaskState, Worker,
};
use tokio::time::Instant;

fn failure_of(err: Error) -> taskq::TaskFailure {
    match err {
        Error::TaskFailed { failure, .. } => failure,
        other => panic!("expected a task failure, got {other}"),
    }
}

async fn dead_letters(client: &Client, queue: &str) -> Vec<taskq::DeadLetter> {
    client
        .backend()
        .dead_letters(queue, 100)
        .await
        .expect("dead letters")
}

// ---------------------------------------------------------------- retries and backoff

static BACKOFF_ATTEMPTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[taskq::task(
    queue = "retries",
    retries = 4,
    backoff = "1s",
    backoff_max = "1m",
    jitter = false
)]
async fn always_fails(ctx: Context) -> Result<(), String> {
    BACKOFF_ATTEMPTS.lock().unwrap().push(Instant::now());
    Err(format!("failure on attempt {}", ctx.attempt()))
}

#[tokio::test(start_paused = true)]
async fn retries_count_attempts_with_growing_backoff_then_dead_letter() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let handle = always_fails::new().delay_on(&client).await.unwrap();
    let failure = failure_of(handle.get().await.unwrap_err());
    assert_eq!(failure.kind, FailureKind::Error);
    assert_eq!(failure.message, "failure on attempt 5");

    let at = BACKOFF_ATTEMPTS.lock().unwrap().clone();
    assert_eq!(at.len(), 5, "1 attempt + 4 retries");
    let gaps: Vec<u64> = at
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64)
        .collect();
    assert_eq!(
        gaps,
        vec![1_000, 2_000, 4_000, 8_000],
        "exponential backoff"
    );

    let dead = dead_letters(&client, "retries").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, DeadLetterReason::AttemptsExhausted);
    assert_eq!(dead[0].message, "failure on attempt 5");
    assert_eq!(handle.state().await.unwrap(), TaskState::Failed);
    let report = worker.shutdown().await.unwrap();
    assert_eq!((report.retried, report.failed), (4, 1));
}

static JITTER_ATTEMPTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[taskq::task(queue = "jitter", retries = 6, backoff = "1s", backoff_max = "4s")]
async fn fails_with_jitter() -> Result<(), String> {
    JITTER_ATTEMPTS.lock().unwrap().push(Instant::now());
    Err("no".into())
}

#[tokio::test(start_paused = true)]
async fn full_jitter_stays_under_the_capped_exponential() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let handle = fails_with_jitter::new().delay_on(&client).await.unwrap();
    assert!(handle.get().await.is_err());
    let at = JITTER_ATTEMPTS.lock().unwrap().clone();
    assert_eq!(at.len(), 7);
    let ceilings = [1_000u128, 2_000, 4_000, 4_000, 4_000, 4_000];
    for (i, w) in at.windows(2).enumerate() {
        let gap = (w[1] - w[0]).as_millis();
        assert!(
            gap <= ceilings[i],
            "retry {} waited {gap} ms, over {}",
            i + 1,
            ceilings[i]
        );
    }
    worker.shutdown().await.unwrap();
}

static RETRY_AFTER_ATTEMPTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[taskq::task(queue = "retry-after", retries = 2, backoff = "1s", jitter = false)]
async fn asks_for_retry_after(ctx: Context) -> Result<u32, String> {
    RETRY_AFTER_ATTEMPTS.lock().unwrap().push(Instant::now());
    if ctx.attempt() == 1 {
        ctx.retry_after(Duration::from_secs(42));
        return Err("rate limited".into());
    }
    Ok(ctx.attempt())
}

#[tokio::test(start_paused = true)]
async fn context_retry_after_overrides_the_backoff() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let handle = asks_for_retry_after::new().delay_on(&client).await.unwrap();
    assert_eq!(handle.get().await.unwrap(), 2, "succeeds on attempt 2");
    let at = RETRY_AFTER_ATTEMPTS.lock().unwrap().clone();
    assert_eq!((at[1] - at[0]).as_secs(), 42);
    worker.shutdown().await.unwrap();
}

// ---------------------------------------------------------------- timeouts and panics

#[taskq::task(queue = "limits", timeout = "150ms")]
async fn sleeps_too_long() -> u32 {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    1
}

#[taskq::task(queue = "limits")]
async fn panics(n: u32) -> u32 {
    if n > 0 {
        panic!("kaboom {n}");
    }
    n
}

#[taskq::task(queue = "limits")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[tokio::test(start_paused = true)]
async fn timeout_fails_the_attempt() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let started = Instant::now();
    let handle = sleeps_too_long::new().delay_on(&client).await.unwrap();
    let failure = failure_of(handle.get().await.unwrap_err());
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert!(failure.message.contains("150ms"), "{}", failure.message);
    assert!(started.elapsed() < Duration::from_secs(1));
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_the_task_and_the_worker_goes_on() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .concurrency(1)
        .spawn()
        .unwrap();
    let bad = panics::new(7).delay_on(&client).await.unwrap();
    let failure = failure_of(bad.get().await.unwrap_err());
    assert_eq!(failure.kind, FailureKind::Panic);
    assert!(failure.message.contains("kaboom 7"), "{}", failure.message);
    // Same worker, one slot: it is still alive and serving.
    let good = add(40, 2).delay_on(&client).await.unwrap();
    assert_eq!(good.get().await.unwrap(), 42);
    let report = worker.shutdown().await.unwrap();
    assert_eq!((report.succeeded, report.failed), (1, 1));
}

#[taskq::task(queue = "sync")]
fn blocking_mul(a: u64, b: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(5));
    a * b
}

#[taskq::task(queue = "sync")]
fn blocking_panics() -> u64 {
    panic!("sync kaboom")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_tasks_run_on_the_blocking_pool() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let h = blocking_mul::new(6, 7).delay_on(&client).await.unwrap();
    assert_eq!(h.get().await.unwrap(), 42);
    let p = blocking_panics::new().delay_on(&client).await.unwrap();
    let failure = failure_of(p.get().await.unwrap_err());
    assert_eq!(failure.kind, FailureKind::Panic);
    assert!(failure.message.contains("sync kaboom"));
    worker.shutdown().await.unwrap();
}

// ---------------------------------------------------------------- shutdown

static WARM_STARTED: AtomicBool = AtomicBool::new(false);

#[taskq::task(queue = "warm")]
async fn finishes_slowly() -> String {
    WARM_STARTED.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    "done".to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_shutdown_lets_running_tasks_finish() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let handle = finishes_slowly::new().delay_on(&client).await.unwrap();
    while !WARM_STARTED.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let report = worker.shutdown().await.unwrap();
    assert_eq!(
        report.succeeded, 1,
        "the running task finished before the worker stopped"
    );
    assert_eq!(report.released, 0);
    assert_eq!(handle.get().await.unwrap(), "done");
}

static COLD_STUCK: AtomicBool = AtomicBool::new(true);
static COLD_STARTED: AtomicU32 = AtomicU32::new(0);
static COLD_ATTEMPTS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[taskq::task(queue = "cold")]
async fn stuck_until_released(ctx: Context, n: u32) -> u32 {
    COLD_ATTEMPTS.lock().unwrap().push(ctx.attempt());
    COLD_STARTED.fetch_add(1, Ordering::SeqCst);
    if COLD_STUCK.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    n * 10
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_shutdown_hands_tasks_back_and_a_new_worker_completes_them() {
    let client = Client::memory();
    let first = Worker::builder()
        .client(client.clone())
        .grace_period(Duration::from_millis(100))
        .spawn()
        .unwrap();
    let handles = client
        .send_many((1..=3).map(stuck_until_released::new))
        .await
        .unwrap();
    while COLD_STARTED.load(Ordering::SeqCst) < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let report = first.shutdown().await.unwrap();
    assert_eq!(
        report.released, 3,
        "the grace period ran out: all three handed back"
    );
    assert_eq!(report.succeeded, 0);
    let stats = client.backend().queue_stats("cold").await.unwrap();
    assert_eq!((stats.ready, stats.running), (3, 0));

    COLD_STUCK.store(false, Ordering::SeqCst);
    let second = Worker::builder().client(client.clone()).spawn().unwrap();
    let mut outputs = Vec::new();
    for h in handles {
        outputs.push(h.get().await.unwrap());
    }
    outputs.sort_unstable();
    assert_eq!(outputs, vec![10, 20, 30]);
    // A hand-back does not count as an attempt.
    assert!(COLD_ATTEMPTS.lock().unwrap().iter().all(|a| *a == 1));
    second.shutdown().await.unwrap();
}

static NOW_STARTED: AtomicBool = AtomicBool::new(false);

#[taskq::task(queue = "cold-now")]
async fn stuck_forever() {
    NOW_STARTED.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_now_is_cold_at_once() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["cold-now"])
        .grace_period(Duration::from_secs(3600))
        .spawn()
        .unwrap();
    let h = stuck_forever::new().delay_on(&client).await.unwrap();
    while !NOW_STARTED.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = std::time::Instant::now();
    let report = worker.stop_now().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not wait for the grace period"
    );
    assert_eq!((report.succeeded, report.released), (0, 1));
    assert_eq!(
        h.state().await.unwrap(),
        TaskState::Pending,
        "handed back, ready again"
    );
}

// ---------------------------------------------------------------- dead letters

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_with_their_reason_and_the_worker_goes_on() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();

    let unknown = Envelope::new("no.such.task", "limits", Payload::encode(&(1, 2)).unwrap());
    let mut bad_args = Envelope::new(
        <add as taskq::Task>::NAME,
        "limits",
        Payload::encode(&"not the arguments").unwrap(),
    );
    bad_args.max_attempts = 3;
    let (unknown_id, bad_id) = (unknown.id, bad_args.id);
    client
        .send_envelopes(vec![unknown, bad_args])
        .await
        .unwrap();

    for id in [unknown_id, bad_id] {
        let err = client.result::<i64>(id).get().await.unwrap_err();
        assert_eq!(failure_of(err).kind, FailureKind::Rejected);
    }
    let dead = dead_letters(&client, "limits").await;
    let reason_of = |id| {
        dead.iter()
            .find(|d| d.id == id)
            .map(|d| (d.reason, d.message.clone()))
    };
    let (reason, message) = reason_of(unknown_id).expect("unknown task dead-lettered");
    assert_eq!(reason, DeadLetterReason::UnknownTask);
    assert!(message.contains("no.such.task"), "{message}");
    let (reason, message) = reason_of(bad_id).expect("bad payload dead-lettered");
    assert_eq!(
        reason,
        DeadLetterReason::UndecodableArguments,
        "not retried: it can never decode"
    );
    assert!(message.contains("do not decode"), "{message}");

    let h = add(1, 1).delay_on(&client).await.unwrap();
    assert_eq!(h.get().await.unwrap(), 2);
    let report = worker.shutdown().await.unwrap();
    assert_eq!(report.rejected, 2);
}

// ---------------------------------------------------------------- results

#[taskq::task(queue = "ttl", result_ttl = "2s")]
async fn short_lived() -> u8 {
    1
}

#[taskq::task(queue = "ttl", ignore_result)]
async fn fire_and_forget() -> u8 {
    1
}

#[tokio::test(start_paused = true)]
async fn results_expire_after_their_ttl() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let h = short_lived::new().delay_on(&client).await.unwrap();
    assert_eq!(h.get().await.unwrap(), 1);
    assert_eq!(h.state().await.unwrap(), TaskState::Succeeded);
    tokio::time::sleep(Duration::from_millis(1_900)).await;
    assert_eq!(h.state().await.unwrap(), TaskState::Succeeded);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.record().await.unwrap().is_none(), "expired");
    assert_eq!(
        h.state().await.unwrap(),
        TaskState::Pending,
        "unknown again, as in Celery"
    );

    let ignored = fire_and_forget::new().delay_on(&client).await.unwrap();
    assert!(matches!(ignored.get().await, Err(Error::NoResult { .. })));
    worker.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn get_timeout_and_from_id() {
    let client = Client::memory();
    // No worker yet: the task waits in the queue.
    let h = add(2, 2).delay_on(&client).await.unwrap();
    let err = h.get_timeout(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, Error::ResultTimeout { .. }), "{err}");
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let again = taskq::AsyncResult::<i64>::from_id_on(&client, h.id());
    assert_eq!(again.get().await.unwrap(), 4);
    let id: taskq::TaskId = h.id().to_string().parse().unwrap();
    assert_eq!(client.result::<i64>(id).get().await.unwrap(), 4);
    worker.shutdown().await.unwrap();
}

// ---------------------------------------------------------------- ordering and time

static ORDER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

#[taskq::task(queue = "prio")]
async fn record_order(p: u8) {
    ORDER.lock().unwrap().push(p);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn higher_priority_runs_first() {
    let client = Client::memory();
    let mut handles = Vec::new();
    for p in [1u8, 5, 9, 0, 7, 9, 3] {
        handles.push(
            record_order::new(p)
                .priority(p)
                .delay_on(&client)
                .await
                .unwrap(),
        );
    }
    let worker = Worker::builder()
        .client(client.clone())
        .concurrency(1)
        .spawn()
        .unwrap();
    for h in handles {
        h.get().await.unwrap();
    }
    assert_eq!(*ORDER.lock().unwrap(), vec![9, 9, 7, 5, 3, 1, 0]);
    worker.shutdown().await.unwrap();
}

static RAN_AT: Mutex<Vec<(u32, Instant)>> = Mutex::new(Vec::new());

#[taskq::task(queue = "later")]
async fn mark_time(n: u32) {
    RAN_AT.lock().unwrap().push((n, Instant::now()));
}

#[tokio::test(start_paused = true)]
async fn countdown_and_eta_are_honoured() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let start = Instant::now();
    let a = mark_time::new(1)
        .countdown(Duration::from_secs(60))
        .delay_on(&client)
        .await
        .unwrap();
    let b = mark_time::new(2)
        .eta(SystemTime::now() + Duration::from_secs(30))
        .delay_on(&client)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(a.state().await.unwrap(), TaskState::Scheduled);
    assert!(RAN_AT.lock().unwrap().is_empty());
    a.get().await.unwrap();
    b.get().await.unwrap();
    let ran = RAN_AT.lock().unwrap().clone();
    let secs: Vec<(u32, u64)> = ran
        .iter()
        .map(|(n, t)| (*n, (*t - start).as_secs()))
        .collect();
    assert_eq!(secs, vec![(2, 30), (1, 60)]);
    worker.shutdown().await.unwrap();
}

static REVOKED_RAN: AtomicBool = AtomicBool::new(false);

#[taskq::task(queue = "revoke")]
async fn must_not_run() {
    REVOKED_RAN.store(true, Ordering::SeqCst);
}

#[tokio::test(start_paused = true)]
async fn revoke_before_start_means_it_never_runs() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let h = must_not_run::new()
        .countdown(Duration::from_secs(5))
        .delay_on(&client)
        .await
        .unwrap();
    assert_eq!(
        h.revoke().await.unwrap(),
        taskq::backend::CancelOutcome::Removed
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!REVOKED_RAN.load(Ordering::SeqCst));
    let failure = failure_of(h.get().await.unwrap_err());
    assert_eq!(failure.kind, FailureKind::Cancelled);
    assert_eq!(h.state().await.unwrap(), TaskState::Cancelled);
    worker.shutdown().await.unwrap();
}

#[taskq::task(queue = "revoke")]
async fn runs_until_cancelled(ctx: Context) -> String {
    ctx.set_progress(&"waiting").await.unwrap();
    ctx.cancelled().await;
    "cancelled".to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_running_task_stops_it() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .lease_duration(Duration::from_millis(150))
        .spawn()
        .unwrap();
    let h = runs_until_cancelled::new().delay_on(&client).await.unwrap();
    while h.progress::<String>().await.unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        h.progress::<String>().await.unwrap().as_deref(),
        Some("waiting")
    );
    assert_eq!(h.state().await.unwrap(), TaskState::Running);
    assert_eq!(
        h.revoke().await.unwrap(),
        taskq::backend::CancelOutcome::Signalled
    );
    let failure = failure_of(h.get_timeout(Duration::from_secs(5)).await.unwrap_err());
    assert_eq!(failure.kind, FailureKind::Cancelled);
    let report = worker.shutdown().await.unwrap();
    assert_eq!(report.cancelled, 1);
}

// ---------------------------------------------------------------- prefetch

static HELD_OPEN: AtomicBool = AtomicBool::new(false);
static HELD_RUNS: Mutex<Vec<(u32, u32)>> = Mutex::new(Vec::new());

/// Task 1 blocks until `HELD_OPEN`; the others return at once.
#[taskq::task(queue = "held")]
async fn gate(ctx: Context, n: u32) -> u32 {
    HELD_RUNS.lock().unwrap().push((n, ctx.attempt()));
    while n == 1 && !HELD_OPEN.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetched_tasks_keep_their_leases_and_go_back_at_a_warm_shutdown() {
    let client = Client::memory();
    let first = Worker::builder()
        .client(client.clone())
        .queues(["held"])
        .concurrency(1)
        .prefetch(2)
        .lease_duration(Duration::from_millis(150))
        .spawn()
        .unwrap();
    let handles = client.send_many((1..=3).map(gate::new)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = client.backend().queue_stats("held").await.unwrap();
        // All three leased, and the one in the slot started (it may start just after the
        // fetch that leased it).
        if (stats.ready, stats.running) == (0, 3) && !HELD_RUNS.lock().unwrap().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker did not fetch ahead: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        *HELD_RUNS.lock().unwrap(),
        vec![(1, 1)],
        "one slot: one runs"
    );

    // Four leases long: the held tasks' leases are kept, so a second worker finds nothing.
    let second = Worker::builder()
        .client(client.clone())
        .queues(["held"])
        .concurrency(4)
        .prefetch(0)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        HELD_RUNS.lock().unwrap().len(),
        1,
        "a held task was redelivered"
    );

    // A warm shutdown hands the two held tasks back at once: the second worker runs them
    // while the first still waits for its running task.
    first.signal(taskq::worker::Stop::Warm);
    let mut handles = handles.into_iter();
    let one = handles.next().unwrap();
    for (h, n) in handles.zip([2, 3]) {
        assert_eq!(h.get_timeout(Duration::from_secs(5)).await.unwrap(), n);
    }
    assert_eq!(
        one.state().await.unwrap(),
        TaskState::Running,
        "task 1 is still running"
    );
    HELD_OPEN.store(true, Ordering::SeqCst);
    assert_eq!(one.get_timeout(Duration::from_secs(5)).await.unwrap(), 1);
    let report = first.join().await.unwrap();
    assert_eq!((report.succeeded, report.released), (1, 2));
    second.shutdown().await.unwrap();
    let mut runs = HELD_RUNS.lock().unwrap().clone();
    runs.sort_unstable();
    assert_eq!(
        runs,
        vec![(1, 1), (2, 1), (3, 1)],
        "each ran once; a hand-back is no attempt"
    );
}

/// Gates and run marks of the two tests below, one index each.
static GATES: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
static MARKS: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

#[taskq::task(queue = "held-gates")]
async fn blocks_until(gate: usize) {
    while !GATES[gate].load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[taskq::task(queue = "held-gates")]
async fn marks(flag: usize) {
    MARKS[flag].store(true, Ordering::SeqCst);
}

/// A worker on `queue` that runs one task and holds one more, and the two tasks: the first
/// blocks its slot until `GATES[i]` opens, the second (made by `second`) waits held.
async fn one_running_one_held<T: taskq::Task>(
    client: &Client,
    queue: &'static str,
    i: usize,
    second: taskq::Call<T>,
) -> (
    taskq::WorkerHandle,
    taskq::AsyncResult<()>,
    taskq::AsyncResult<T::Output>,
) {
    let worker = Worker::builder()
        .client(client.clone())
        .queues([queue])
        .concurrency(1)
        .prefetch(1)
        .lease_duration(Duration::from_millis(150))
        .spawn()
        .unwrap();
    let first = blocks_until::new(i)
        .queue(queue)
        .delay_on(client)
        .await
        .unwrap();
    let held = second.queue(queue).delay_on(client).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.backend().queue_stats(queue).await.unwrap().running < 2 {
        assert!(Instant::now() < deadline, "the worker did not fetch ahead");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (worker, first, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetched_task_revoked_before_its_slot_never_runs() {
    let client = Client::memory();
    let (worker, first, held) =
        one_running_one_held(&client, "held-revoke", 0, marks::new(0)).await;
    assert_eq!(
        held.revoke().await.unwrap(),
        taskq::backend::CancelOutcome::Signalled,
        "leased by the worker, so the worker is told"
    );
    // Two lease extensions: the worker has heard of it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    GATES[0].store(true, Ordering::SeqCst);
    first.get_timeout(Duration::from_secs(5)).await.unwrap();
    let failure = failure_of(held.get_timeout(Duration::from_secs(5)).await.unwrap_err());
    assert_eq!(failure.kind, FailureKind::Cancelled);
    assert_eq!(failure.message, "revoked before it started");
    assert!(!MARKS[0].load(Ordering::SeqCst));
    let report = worker.shutdown().await.unwrap();
    assert_eq!((report.succeeded, report.cancelled), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetched_task_that_expires_before_its_slot_never_runs() {
    let client = Client::memory();
    let expiring = marks::new(1).expires_in(Duration::from_millis(200));
    let (worker, first, held) = one_running_one_held(&client, "held-expire", 1, expiring).await;
    // Fetched in time, but its slot frees only after it expired.
    tokio::time::sleep(Duration::from_millis(300)).await;
    GATES[1].store(true, Ordering::SeqCst);
    first.get_timeout(Duration::from_secs(5)).await.unwrap();
    let failure = failure_of(held.get_timeout(Duration::from_secs(5)).await.unwrap_err());
    assert_eq!(failure.kind, FailureKind::Expired);
    assert!(!MARKS[1].load(Ordering::SeqCst));
    worker.shutdown().await.unwrap();
}

// ---------------------------------------------------------------- concurrency

static ONCE_RUNS: Mutex<Option<HashMap<u32, u32>>> = Mutex::new(None);

#[taskq::task(queue = "many")]
async fn counted(n: u32) -> u32 {
    *ONCE_RUNS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(n)
        .or_default() += 1;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_delays_all_complete_exactly_once() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let mut joins = Vec::new();
    for n in 0..10_000u32 {
        let client = client.clone();
        joins.push(tokio::spawn(async move {
            let h = counted::new(n).delay_on(&client).await.unwrap();
            h.get().await.unwrap()
        }));
    }
    for (n, j) in joins.into_iter().enumerate() {
        assert_eq!(j.await.unwrap(), n as u32);
    }
    let runs = ONCE_RUNS.lock().unwrap().take().unwrap();
    assert_eq!(runs.len(), 10_000);
    assert!(runs.values().all(|c| *c == 1), "some task ran twice");
    let report = worker.shutdown().await.unwrap();
    assert_eq!(report.succeeded, 10_000);
}

// ---------------------------------------------------------------- tasks that enqueue tasks, events

#[taskq::task(queue = "tree")]
async fn child(ctx: Context, n: u32) -> (u32, String) {
    (n + 1, ctx.root_id().to_string())
}

#[taskq::task(queue = "tree")]
async fn parent(ctx: Context, n: u32) -> Result<(u32, String, String), Error> {
    let h = child::new(n).delay().await?;
    let (m, root) = h.get().await?;
    Ok((m, root, ctx.id().to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_enqueue_tasks_through_their_worker() {
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let h = parent::new(1).delay_on(&client).await.unwrap();
    let (m, child_root, parent_id) = h.get().await.unwrap();
    assert_eq!(m, 2);
    assert_eq!(
        child_root, parent_id,
        "the child knows the tree it belongs to"
    );
    assert_eq!(parent_id, h.id().to_string());
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_a_task() {
    let mut events = taskq::events::subscribe();
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let h = add(5, 5).delay_on(&client).await.unwrap();
    assert_eq!(h.get().await.unwrap(), 10);
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let e = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        if e.id == h.id() {
            assert_eq!(e.task, <add as taskq::Task>::NAME);
            kinds.push(e.kind);
        }
    }
    use taskq::events::EventKind::*;
    assert_eq!(kinds, vec![Enqueued, Started, Succeeded]);
    worker.shutdown().await.unwrap();
}

#[test]
fn the_function_still_runs_in_place() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(add(20, 22)), 42);
    assert_eq!(blocking_mul(6, 7), 42);
}
