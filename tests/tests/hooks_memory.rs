//! Lifecycle hooks on the in-memory backend: each fires once per transition with the task's
//! fields, in order; a hook that panics, errors or outlives its timeout changes nothing else.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskq::hooks::{HookEvent, HookKind, Hooks};
use taskq::{Client, FailureKind, Worker};

type Log = Arc<Mutex<Vec<HookEvent>>>;

fn logging(log: &Log) -> Hooks {
    let add = |log: &Log| {
        let log = log.clone();
        move |ev: HookEvent| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(ev);
                Ok(())
            }
        }
    };
    Hooks::new()
        .before_start(add(log))
        .after_success(add(log))
        .after_retry(add(log))
        .after_failure(add(log))
        .after_dead_letter(add(log))
}

#[taskq::task(queue = "hooks-ok")]
async fn hooked_ok(x: u32) -> u32 {
    x + 1
}

#[tokio::test]
async fn success_runs_before_start_then_after_success() {
    let client = Client::memory();
    let log = Log::default();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["hooks-ok"])
        .hooks(logging(&log))
        .spawn()
        .unwrap();
    let handle = hooked_ok::new(1).delay_on(&client).await.unwrap();
    assert_eq!(handle.get().await.unwrap(), 2);
    worker.shutdown().await.unwrap();
    let log = log.lock().unwrap();
    let kinds: Vec<HookKind> = log.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![HookKind::BeforeStart, HookKind::AfterSuccess]);
    for ev in log.iter() {
        assert_eq!(ev.id, handle.id());
        assert_eq!(ev.name, "hooks_memory::hooked_ok");
        assert_eq!(ev.queue, "hooks-ok");
        assert_eq!(ev.attempt, 1);
        assert!(ev.error.is_none());
    }
    assert!(log[0].runtime.is_none());
    assert!(log[1].runtime.is_some());
}

#[taskq::task(queue = "hooks-fail", retries = 1, backoff = "1ms", jitter = false)]
async fn hooked_fails() -> Result<(), String> {
    Err("boom".to_owned())
}

#[tokio::test]
async fn failure_with_one_retry_runs_retry_then_failure_then_dead_letter() {
    let client = Client::memory();
    let log = Log::default();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["hooks-fail"])
        .hooks(logging(&log))
        .spawn()
        .unwrap();
    let handle = hooked_fails::new().delay_on(&client).await.unwrap();
    assert!(handle.get().await.is_err());
    worker.shutdown().await.unwrap();
    let log = log.lock().unwrap();
    let seen: Vec<(HookKind, u32)> = log.iter().map(|e| (e.kind, e.attempt)).collect();
    assert_eq!(
        seen,
        vec![
            (HookKind::BeforeStart, 1),
            (HookKind::AfterRetry, 1),
            (HookKind::BeforeStart, 2),
            (HookKind::AfterFailure, 2),
            (HookKind::AfterDeadLetter, 2),
        ]
    );
    for ev in log.iter().filter(|e| e.kind != HookKind::BeforeStart) {
        assert_eq!(ev.error, Some((FailureKind::Error, "boom".to_owned())));
        assert_eq!(ev.name, "hooks_memory::hooked_fails");
    }
}

#[taskq::task(queue = "hooks-bad")]
async fn hooked_bad(x: u32) -> u32 {
    x * 2
}

#[tokio::test]
async fn panicking_and_erroring_hooks_leave_the_task_and_worker_alone() {
    let client = Client::memory();
    let hooks = Hooks::new()
        .before_start(|_ev: HookEvent| async { panic!("hook panics") })
        .after_success(|_ev: HookEvent| async { Err("hook errs".into()) });
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["hooks-bad"])
        .hooks(hooks)
        .spawn()
        .unwrap();
    for x in 0..3 {
        let handle = hooked_bad::new(x).delay_on(&client).await.unwrap();
        assert_eq!(handle.get().await.unwrap(), x * 2);
    }
    let report = worker.shutdown().await.unwrap();
    assert_eq!(report.succeeded, 3);
}

#[taskq::task(queue = "hooks-slow")]
async fn hooked_slow() -> u32 {
    7
}

#[tokio::test(start_paused = true)]
async fn a_hook_past_its_timeout_is_cut_off() {
    let client = Client::memory();
    let finished = Arc::new(Mutex::new(false));
    let flag = finished.clone();
    let hooks = Hooks::new()
        .timeout(Duration::from_secs(1))
        .before_start(move |_ev: HookEvent| {
            let flag = flag.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                *flag.lock().unwrap() = true;
                Ok(())
            }
        });
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["hooks-slow"])
        .hooks(hooks)
        .spawn()
        .unwrap();
    let handle = hooked_slow::new().delay_on(&client).await.unwrap();
    assert_eq!(handle.get().await.unwrap(), 7);
    worker.shutdown().await.unwrap();
    assert!(!*finished.lock().unwrap(), "the slow hook was dropped");
}
