//! Workflow scenarios shared by the memory and Redis test binaries: the same checks, run
//! against each backend.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use taskq::canvas::{chord, group, sequence, Dag, WorkflowFailure};
use taskq::{Client, Error, FailureKind, TaskState};

#[taskq::task(queue = "flows")]
pub async fn inc(n: u64) -> u64 {
    n + 1
}

#[taskq::task(queue = "flows")]
pub async fn square(n: u64) -> u64 {
    n * n
}

pub static SUM_CALLS: AtomicU32 = AtomicU32::new(0);

#[taskq::task(queue = "flows")]
pub async fn sum_all(values: Vec<u64>) -> u64 {
    SUM_CALLS.fetch_add(1, Ordering::SeqCst);
    values.iter().sum()
}

#[taskq::task(queue = "flows")]
pub async fn scale(n: u64, by: u64) -> u64 {
    n * by
}

#[taskq::task(queue = "flows")]
pub async fn describe(pair: (u64, String)) -> String {
    format!("{}:{}", pair.0, pair.1)
}

#[taskq::task(queue = "flows")]
pub async fn text(n: u64) -> String {
    format!("n={n}")
}

#[taskq::task(queue = "flows")]
pub async fn explode(n: u64) -> Result<u64, String> {
    Err(format!("cannot handle {n}"))
}

pub static NEVER_RAN: AtomicU32 = AtomicU32::new(0);

#[taskq::task(queue = "flows")]
pub async fn never(n: u64) -> u64 {
    NEVER_RAN.fetch_add(1, Ordering::SeqCst);
    n
}

pub static CHORD_CALLS: AtomicU32 = AtomicU32::new(0);

#[taskq::task(queue = "flows")]
pub async fn chord_total(values: Vec<u64>) -> u64 {
    CHORD_CALLS.fetch_add(1, Ordering::SeqCst);
    values.iter().sum()
}

pub static FAILURES: Mutex<Vec<WorkflowFailure>> = Mutex::new(Vec::new());

#[taskq::task(queue = "flows")]
pub async fn on_failure(failure: WorkflowFailure) {
    FAILURES.lock().unwrap().push(failure);
}

pub static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

#[taskq::task(queue = "flows", retries = 2, backoff = "10ms")]
pub async fn flaky_double(ctx: taskq::Context, n: u64) -> Result<u64, String> {
    FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
    if ctx.attempt() == 1 {
        return Err("first attempt always fails".into());
    }
    Ok(n * 2)
}

#[taskq::task(queue = "flows")]
pub async fn slow_inc(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(400)).await;
    n + 1
}

/// Sums 1..=n through a fan-out and a chord, started by name in the tests.
#[taskq::workflow(name = "tests.squares")]
pub fn squares(n: u64) -> impl taskq::canvas::Canvas<Output = u64> {
    chord(
        group((1..=n).map(square::new).collect::<Vec<_>>()),
        sum_all::partial(),
    )
}

fn failure_of(err: Error) -> taskq::TaskFailure {
    match err {
        Error::TaskFailed { failure, .. } => failure,
        other => panic!("expected a task failure, got {other}"),
    }
}

pub async fn chain_of_100_steps(client: &Client) {
    let steps = (0..99).map(|_| inc::partial()).collect();
    let handle = inc::new(0)
        .then(sequence(steps))
        .delay_on(client)
        .await
        .unwrap();
    assert_eq!(
        handle.get_timeout(Duration::from_secs(60)).await.unwrap(),
        100
    );
}

pub async fn chord_of_1000_fires_once(client: &Client) {
    let before = CHORD_CALLS.load(Ordering::SeqCst);
    let members = (1..=1000u64).map(square::new).collect::<Vec<_>>();
    let handle = chord(group(members), chord_total::partial())
        .delay_on(client)
        .await
        .unwrap();
    let expected: u64 = (1..=1000u64).map(|n| n * n).sum();
    assert_eq!(
        handle.get_timeout(Duration::from_secs(60)).await.unwrap(),
        expected
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        CHORD_CALLS.load(Ordering::SeqCst) - before,
        1,
        "the callback ran exactly once"
    );
}

pub async fn groups_give_vecs_and_tuples(client: &Client) {
    let v = group(vec![square::new(2), square::new(3), square::new(4)])
        .delay_on(client)
        .await
        .unwrap();
    assert_eq!(v.get().await.unwrap(), vec![4, 9, 16]);
    // A group of one is still a group: a one-element `Vec`, for a caller and for a callback.
    let one = group(vec![square::new(3)]).delay_on(client).await.unwrap();
    assert_eq!(one.get().await.unwrap(), vec![9]);
    let chord_of_one = chord(group(vec![square::new(3)]), sum_all::partial())
        .delay_on(client)
        .await
        .unwrap();
    assert_eq!(chord_of_one.get().await.unwrap(), 9);
    let t = group((square::new(5), text::new(7)))
        .delay_on(client)
        .await
        .unwrap();
    assert_eq!(t.get().await.unwrap(), (25, "n=7".to_string()));
    // A group in the middle of a chain: every member gets the previous output.
    let fan = inc::new(1)
        .then(group(vec![scale::partial(10), scale::partial(100)]))
        .then(sum_all::partial())
        .delay_on(client)
        .await
        .unwrap();
    assert_eq!(fan.get().await.unwrap(), 20 + 200);
}

pub async fn dag_fans_out_and_in(client: &Client) {
    let mut dag = Dag::new();
    let start = dag.step("start", inc::new(4)); // 5
    let squared = dag.after("squared", start, square::partial()); // 25
    let label = dag.after("label", start, text::partial()); // "n=5"
    let both = dag.after("describe", (squared, label), describe::partial());
    let handle = dag.finish(both).delay_on(client).await.unwrap();
    assert_eq!(handle.get().await.unwrap(), "25:n=5");
}

pub async fn failure_mid_chain_stops_the_rest(client: &Client) {
    let never_before = NEVER_RAN.load(Ordering::SeqCst);
    let handle = inc::new(1)
        .then(explode::partial())
        .then(never::partial())
        .on_error(on_failure::partial())
        .delay_on(client)
        .await
        .unwrap();
    let failure = failure_of(
        handle
            .get_timeout(Duration::from_secs(30))
            .await
            .unwrap_err(),
    );
    assert_eq!(failure.kind, FailureKind::Error);
    assert!(failure.message.contains("explode"), "{}", failure.message);
    assert!(
        failure.message.contains("cannot handle 2"),
        "{}",
        failure.message
    );
    assert_eq!(handle.state().await.unwrap(), TaskState::Failed);
    // The error callback ran with the step and the error.
    let mut seen = None;
    for _ in 0..200 {
        seen = FAILURES
            .lock()
            .unwrap()
            .iter()
            .find(|f| f.workflow == handle.id())
            .cloned();
        if seen.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = seen.expect("the error callback ran");
    assert!(seen.task.ends_with("explode"), "{seen:?}");
    assert_eq!(seen.message, "cannot handle 2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        NEVER_RAN.load(Ordering::SeqCst),
        never_before,
        "later steps never ran"
    );
}

pub async fn retries_stay_inside_a_step(client: &Client) {
    let handle = inc::new(1)
        .then(flaky_double::partial())
        .then(inc::partial())
        .delay_on(client)
        .await
        .unwrap();
    assert_eq!(
        handle.get_timeout(Duration::from_secs(30)).await.unwrap(),
        5
    );
}

pub async fn start_a_workflow_by_name_with_json(client: &Client) {
    let name = <squares as taskq::canvas::Workflow>::NAME;
    assert_eq!(name, "tests.squares");
    let args = taskq::Payload::encode(&serde_json::json!({ "n": 10 })).unwrap();
    let handle = client.start_workflow(name, args).await.unwrap();
    let expected: u64 = (1..=10u64).map(|n| n * n).sum();
    assert_eq!(handle.get().await.unwrap(), serde_json::json!(expected));
    // Typed, through the generated struct.
    let typed = squares::new(3).delay_on(client).await.unwrap();
    assert_eq!(typed.get().await.unwrap(), 14);
    // By a message any language can send: the built-in `taskq.start_workflow` task.
    let env = taskq::Envelope::new(
        taskq::canvas::START_WORKFLOW_TASK,
        "flows",
        taskq::Payload::encode(&serde_json::json!({ "name": name, "args": { "n": 2 } })).unwrap(),
    );
    let starter = env.id;
    client.send_envelopes(vec![env]).await.unwrap();
    let workflow_id: taskq::TaskId = client.result(starter).get().await.unwrap();
    assert_eq!(client.result::<u64>(workflow_id).get().await.unwrap(), 5);
    let unknown = client
        .start_workflow("no.such.workflow", taskq::Payload::null())
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("no.such.workflow"),
        "{unknown}"
    );
}

pub async fn revoking_a_workflow_stops_steps_not_started(client: &Client) {
    let never_before = NEVER_RAN.load(Ordering::SeqCst);
    let handle = slow_inc::new(1)
        .then(never::partial())
        .then(never::partial())
        .delay_on(client)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    handle.revoke().await.unwrap();
    let failure = failure_of(
        handle
            .get_timeout(Duration::from_secs(10))
            .await
            .unwrap_err(),
    );
    assert_eq!(failure.kind, FailureKind::Cancelled);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        NEVER_RAN.load(Ordering::SeqCst),
        never_before,
        "no step ran after the revoke"
    );
}
