//! Lifecycle hooks registered at link time with `#[taskq::hook]`: every worker of the binary
//! runs them, before the builder's hooks of the same kind; their errors and panics change
//! nothing; `after_revoked` fires for a task revoked while it runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskq::hooks::{HookEvent, HookKind, Hooks};
use taskq::{Client, TaskId, Worker};

/// What the linked hooks saw: (which hook, kind, task id). Tests run at once: each looks at its
/// own task ids only.
static SEEN: Mutex<Vec<(&'static str, HookKind, TaskId)>> = Mutex::new(Vec::new());

fn saw(hook: &'static str, ev: &HookEvent) {
    SEEN.lock().unwrap().push((hook, ev.kind, ev.id));
}

fn seen_for(id: TaskId) -> Vec<(&'static str, HookKind)> {
    SEEN.lock()
        .unwrap()
        .iter()
        .filter(|(_, _, i)| *i == id)
        .map(|(h, k, _)| (*h, *k))
        .collect()
}

#[taskq::hook(before_start)]
async fn linked_start(ev: HookEvent) {
    saw("linked_start", &ev);
}

#[taskq::hook(after_success)]
async fn linked_success(ev: HookEvent) -> Result<(), String> {
    saw("linked_success", &ev);
    Ok(())
}

/// Errs for every task: the task and the other hooks go on.
#[taskq::hook(after_success)]
async fn linked_success_errs(ev: HookEvent) -> Result<(), std::io::Error> {
    saw("linked_success_errs", &ev);
    Err(std::io::Error::other("this hook always fails"))
}

/// Panics for every task of queue `link-panic`.
#[taskq::hook(before_start)]
async fn linked_start_panics(ev: HookEvent) {
    if ev.queue == "link-panic" {
        panic!("a linked hook panics");
    }
}

#[taskq::hook(after_revoked)]
async fn linked_revoked(ev: HookEvent) {
    saw("linked_revoked", &ev);
}

#[taskq::task(queue = "link-ok")]
async fn plus_one(x: u32) -> u32 {
    x + 1
}

#[taskq::task(queue = "link-panic")]
async fn twice(x: u32) -> u32 {
    x * 2
}

#[taskq::task(queue = "link-revoke")]
async fn long_nap() {
    tokio::time::sleep(Duration::from_secs(30)).await;
}

#[test]
fn linked_hooks_are_listed_in_name_order() {
    let names: Vec<&str> = taskq::hooks::linked().iter().map(|h| h.name).collect();
    assert_eq!(
        names,
        vec![
            "hooks_link::linked_revoked",
            "hooks_link::linked_start",
            "hooks_link::linked_start_panics",
            "hooks_link::linked_success",
            "hooks_link::linked_success_errs",
        ]
    );
    let kinds: Vec<HookKind> = taskq::hooks::linked().iter().map(|h| h.kind).collect();
    assert_eq!(kinds[0], HookKind::AfterRevoked);
    assert_eq!(kinds[3], HookKind::AfterSuccess);
}

#[tokio::test]
async fn linked_hooks_run_before_the_builders() {
    let client = Client::memory();
    let builder_saw = Arc::new(Mutex::new(Vec::new()));
    let log = builder_saw.clone();
    let hooks = Hooks::new().after_success(move |ev: HookEvent| {
        let log = log.clone();
        async move {
            // The linked hooks of this kind ran already.
            log.lock().unwrap().push(seen_for(ev.id).len());
            Ok(())
        }
    });
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["link-ok"])
        .hooks(hooks)
        .spawn()
        .unwrap();
    let handle = plus_one(1).delay_on(&client).await.unwrap();
    assert_eq!(handle.get().await.unwrap(), 2);
    worker.shutdown().await.unwrap();
    assert_eq!(
        seen_for(handle.id()),
        vec![
            ("linked_start", HookKind::BeforeStart),
            ("linked_success", HookKind::AfterSuccess),
            ("linked_success_errs", HookKind::AfterSuccess),
        ]
    );
    assert_eq!(*builder_saw.lock().unwrap(), vec![3]);
}

#[tokio::test]
async fn a_panicking_linked_hook_changes_nothing() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["link-panic"])
        .spawn()
        .unwrap();
    for x in 0..3 {
        let handle = twice(x).delay_on(&client).await.unwrap();
        assert_eq!(handle.get().await.unwrap(), x * 2);
    }
    let report = worker.shutdown().await.unwrap();
    assert_eq!(report.succeeded, 3);
}

#[tokio::test]
async fn a_task_revoked_while_running_runs_after_revoked() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["link-revoke"])
        .lease_duration(Duration::from_millis(300))
        .spawn()
        .unwrap();
    let handle = long_nap().delay_on(&client).await.unwrap();
    for _ in 0..200 {
        if handle.state().await.unwrap() == taskq::TaskState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.revoke().await.unwrap();
    assert!(handle.get().await.is_err());
    // The hook runs right after the cancelled outcome is handed over: wait for it a little.
    for _ in 0..200 {
        if seen_for(handle.id()).contains(&("linked_revoked", HookKind::AfterRevoked)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.shutdown().await.unwrap();
    let seen = seen_for(handle.id());
    assert_eq!(seen[0], ("linked_start", HookKind::BeforeStart));
    assert!(
        seen.contains(&("linked_revoked", HookKind::AfterRevoked)),
        "after_revoked did not run: {seen:?}"
    );
    assert!(!seen.iter().any(|(_, k)| *k == HookKind::AfterSuccess));
}
