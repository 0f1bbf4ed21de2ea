//! The backend conformance suite: every semantic check a [`Backend`] must pass, so that the
//! in-memory backend, Redis and the ones to come behave alike.
//!
//! A backend crate calls [`run`] from a test with a backend connected to a real server:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! let backend = Arc::new(taskq::backend::memory::MemoryBackend::new());
//! if let Err(failures) = taskq::conformance::run(backend).await {
//!     panic!("{failures}");
//! }
//! # }
//! ```
//!
//! Each check uses queues of its own (random names), so one backend instance serves them all
//! and a shared server is not disturbed. The checks run in real time with short delays (a few
//! hundred milliseconds), so the whole suite takes a few seconds.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use operations::*;

use crate::backend::{
    Backend, CancelOutcome, Completion, DeadSelection, FetchRequest, LeaseStatus,
};
use crate::message::{
    DeadLetterReason, Delivery, Envelope, FailureKind, Outcome, Payload, TaskFailure, TaskId,
    Timestamp,
};
use crate::state::TaskState;

/// The checks that failed.
#[derive(Debug)]
pub struct ConformanceFailures {
    /// `(check, what went wrong)` for each failed check.
    pub failures: Vec<(&'static str, String)>,
    /// How many checks ran.
    pub total: usize,
}

impl fmt::Display for ConformanceFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} of {} conformance checks failed:",
            self.failures.len(),
            self.total
        )?;
        for (name, why) in &self.failures {
            writeln!(f, "  {name}: {why}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConformanceFailures {}

type CheckResult = Result<(), String>;
type CheckFn =
    for<'a> fn(&'a dyn Backend, &'a str) -> Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

// After `ensure!`, which it uses.
mod operations;
mod schedules;
use schedules::*;
mod unique;
use unique::*;
mod flow;
use flow::*;

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        /// The names of every check, in the order [`run`] runs them.
        pub const CHECKS: &[&str] = &[$(stringify!($name)),*];
        fn all_checks() -> Vec<(&'static str, CheckFn)> {
            vec![$((stringify!($name), (|b, q| Box::pin($name(b, q))) as CheckFn)),*]
        }
    };
}

checks!(
    publish_fetch_complete,
    fifo_within_priority,
    higher_priority_first,
    queues_are_separate,
    batch_publish_and_bounded_fetch,
    fetch_blocks_until_publish,
    delayed_until_due,
    delayed_wakes_idle_fetch,
    expired_lease_redelivers_and_fences,
    extend_keeps_lease,
    retry_later_counts_attempts,
    release_does_not_count,
    dead_letter_requeue_purge,
    cancel_queued_and_delayed,
    cancel_running_signals_worker,
    expired_message_fails,
    result_ttl_expires,
    ignored_result_still_wakes,
    wait_result_times_out,
    progress_is_recorded,
    counters_add_up,
    queue_stats_count,
    publish_once_dedups_by_id,
    join_keeps_first_value_per_slot,
    resolve_keeps_the_first_outcome,
    events_are_read_in_order_and_resumed,
    event_readers_wake_on_append,
    heartbeats_expire_and_removal_is_immediate,
    tasks_are_listed_by_state_with_paging,
    inspect_gives_the_full_record,
    purge_queue_removes_waiting_tasks,
    dead_letters_by_reason_and_limit,
    paused_queue_is_not_fetched_until_resumed,
    schedules_are_stored_idempotently,
    schedule_tick_is_claimed_exactly_once,
    schedule_overlap_skips_or_buffers,
    paused_schedule_records_skips,
    unique_key_held_until_the_task_ends,
    rate_limit_spaces_starts_without_using_attempts,
    rate_limit_keys_are_separate,
    concurrency_limit_caps_leases_until_one_ends,
    concurrency_permit_returns_with_an_expired_lease,
    circuit_breaker_opens_probes_and_closes,
    limits_hold_for_every_way_in,
    unique_key_released_by_every_end,
    unique_key_ttl_is_a_safety_net,
    unique_key_concurrent_enqueues_make_one_task,
);

/// Runs every check against `backend` and reports all failures at once.
///
/// # Errors
/// [`ConformanceFailures`] listing each failed check and why.
pub async fn run(backend: Arc<dyn Backend>) -> Result<(), ConformanceFailures> {
    let checks = all_checks();
    let total = checks.len();
    let mut failures = Vec::new();
    for (name, check) in checks {
        let queue = format!("conformance-{name}-{}", TaskId::new());
        let outcome = tokio::time::timeout(Duration::from_secs(20), check(&*backend, &queue)).await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push((name, why)),
            Err(_) => failures.push((name, "did not finish within 20 s".to_owned())),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ConformanceFailures { failures, total })
    }
}

fn env(queue: &str, n: u32) -> Envelope {
    let args = Payload::encode(&n).unwrap_or_else(|_| Payload::null());
    let mut e = Envelope::new("conformance.task", queue, args);
    e.max_attempts = 3;
    e
}

fn lease_req(queues: &[String], max: usize, wait: Duration) -> FetchRequest<'_> {
    FetchRequest {
        queues,
        max,
        lease: Duration::from_secs(30),
        wait,
    }
}

fn arg(d: &Delivery) -> Result<u32, String> {
    d.envelope
        .args
        .decode::<u32>()
        .map_err(|e| format!("arguments came back changed: {e}"))
}

fn success(d: &Delivery, value: u32, ttl: Option<Duration>) -> Completion {
    Completion {
        lease: d.lease.clone(),
        outcome: Outcome::Success(Payload::encode(&value).unwrap_or_else(|_| Payload::null())),
        result_ttl: ttl,
        reply_to: d.envelope.reply_to.clone(),
        task: Some(d.envelope.task.clone().into()),
        started_at: Some(Timestamp::now()),
        args: Some(d.envelope.args.clone()),
    }
}

const TTL: Option<Duration> = Some(Duration::from_secs(60));
const NOW: Duration = Duration::ZERO;
const SHORT: Duration = Duration::from_secs(3);

async fn fetch(
    b: &dyn Backend,
    q: &str,
    max: usize,
    wait: Duration,
) -> Result<Vec<Delivery>, String> {
    let queues = [q.to_owned()];
    b.fetch(lease_req(&queues, max, wait))
        .await
        .map_err(|e| format!("fetch failed: {e}"))
}

async fn fetch_one(b: &dyn Backend, q: &str, wait: Duration) -> Result<Delivery, String> {
    let mut got = fetch(b, q, 1, wait).await?;
    ensure!(got.len() == 1, "expected one delivery, got {}", got.len());
    got.pop().ok_or_else(|| "no delivery".to_owned())
}

async fn publish(b: &dyn Backend, envs: Vec<Envelope>) -> CheckResult {
    b.publish(envs)
        .await
        .map_err(|e| format!("publish failed: {e}"))
}

async fn state(b: &dyn Backend, id: TaskId) -> Result<Option<TaskState>, String> {
    Ok(b.record(id)
        .await
        .map_err(|e| format!("record failed: {e}"))?
        .map(|r| r.state))
}

async fn publish_fetch_complete(b: &dyn Backend, q: &str) -> CheckResult {
    let e = env(q, 7);
    let id = e.id;
    publish(b, vec![e.clone()]).await?;
    ensure!(
        state(b, id).await? == Some(TaskState::Pending),
        "a queued task is not pending"
    );
    let d = fetch_one(b, q, NOW).await?;
    ensure!(d.envelope.id == id, "fetched another task");
    ensure!(
        d.envelope.attempt == 1,
        "first delivery has attempt {}, not 1",
        d.envelope.attempt
    );
    ensure!(
        d.lease.attempt == 1 && d.lease.id == id,
        "the lease does not match the delivery"
    );
    ensure!(
        d.envelope.task == e.task && d.envelope.max_attempts == 3,
        "the envelope came back changed"
    );
    ensure!(arg(&d)? == 7, "arguments came back changed");
    ensure!(
        state(b, id).await? == Some(TaskState::Running),
        "a leased task is not running"
    );
    let accepted = b
        .complete(&[success(&d, 49, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        accepted == vec![true],
        "a current lease's completion was refused: {accepted:?}"
    );
    let out = b
        .wait_result(id, Some(SHORT))
        .await
        .map_err(|e| e.to_string())?;
    match out {
        Some(Outcome::Success(p)) => {
            ensure!(p.decode::<u32>().ok() == Some(49), "wrong result {p:?}")
        }
        other => return Err(format!("expected the stored success, got {other:?}")),
    }
    ensure!(
        state(b, id).await? == Some(TaskState::Succeeded),
        "a completed task is not succeeded"
    );
    ensure!(
        fetch(b, q, 10, NOW).await?.is_empty(),
        "a completed task was delivered again"
    );
    Ok(())
}

async fn fifo_within_priority(b: &dyn Backend, q: &str) -> CheckResult {
    let envs: Vec<Envelope> = (0..20).map(|n| env(q, n)).collect();
    publish(b, envs).await?;
    let got = fetch(b, q, 20, NOW).await?;
    let order: Vec<u32> = got.iter().map(arg).collect::<Result<_, _>>()?;
    ensure!(
        order == (0..20).collect::<Vec<_>>(),
        "not FIFO within one priority: {order:?}"
    );
    Ok(())
}

async fn higher_priority_first(b: &dyn Backend, q: &str) -> CheckResult {
    let mut envs = Vec::new();
    for (n, p) in [(1, 1u8), (2, 9), (3, 5), (4, 9), (5, 0), (6, 5)] {
        let mut e = env(q, n);
        e.priority = p;
        envs.push(e);
    }
    // Two publishes, so that the order does not depend on one batch.
    let second = envs.split_off(3);
    publish(b, envs).await?;
    publish(b, second).await?;
    let got = fetch(b, q, 6, NOW).await?;
    let order: Vec<u32> = got.iter().map(arg).collect::<Result<_, _>>()?;
    ensure!(
        order == vec![2, 4, 3, 6, 1, 5],
        "priority order wrong: {order:?} (want 2,4,3,6,1,5)"
    );
    Ok(())
}

async fn queues_are_separate(b: &dyn Backend, q: &str) -> CheckResult {
    let other = format!("{q}-other");
    publish(b, vec![env(q, 1), env(&other, 2)]).await?;
    let only_other = fetch(b, &other, 10, NOW).await?;
    ensure!(
        only_other.len() == 1 && arg(&only_other[0])? == 2,
        "fetching one queue returned another's task"
    );
    let queues = [q.to_owned(), other.clone()];
    publish(b, vec![env(&other, 3)]).await?;
    let both = b
        .fetch(lease_req(&queues, 10, NOW))
        .await
        .map_err(|e| e.to_string())?;
    let mut args: Vec<u32> = both.iter().map(arg).collect::<Result<_, _>>()?;
    args.sort_unstable();
    ensure!(
        args == vec![1, 3],
        "fetching two queues returned {args:?}, want [1, 3]"
    );
    Ok(())
}

async fn batch_publish_and_bounded_fetch(b: &dyn Backend, q: &str) -> CheckResult {
    publish(b, (0..100).map(|n| env(q, n)).collect()).await?;
    let first = fetch(b, q, 30, NOW).await?;
    ensure!(
        first.len() == 30,
        "fetch(max = 30) returned {}",
        first.len()
    );
    let rest = fetch(b, q, 1000, NOW).await?;
    ensure!(
        rest.len() == 70,
        "the second fetch returned {} of the remaining 70",
        rest.len()
    );
    let mut ids: Vec<TaskId> = first.iter().chain(&rest).map(|d| d.envelope.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ensure!(
        ids.len() == 100,
        "deliveries were not distinct: {} unique",
        ids.len()
    );
    Ok(())
}

async fn fetch_blocks_until_publish(b: &dyn Backend, q: &str) -> CheckResult {
    let e = env(q, 1);
    let id = e.id;
    let started = tokio::time::Instant::now();
    let fetcher = fetch(b, q, 1, Duration::from_secs(5));
    let publisher = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        publish(b, vec![e]).await
    };
    let (got, published) = tokio::join!(fetcher, publisher);
    published?;
    let got = got?;
    ensure!(
        got.len() == 1 && got[0].envelope.id == id,
        "a blocked fetch did not return the published task"
    );
    let waited = started.elapsed();
    ensure!(
        waited < Duration::from_secs(2),
        "a blocked fetch took {waited:?} to see a publish"
    );
    let empty_started = tokio::time::Instant::now();
    let none = fetch(b, q, 1, Duration::from_millis(300)).await?;
    ensure!(none.is_empty(), "an empty queue returned a task");
    ensure!(
        empty_started.elapsed() >= Duration::from_millis(250),
        "fetch returned before its wait on an empty queue"
    );
    Ok(())
}

async fn delayed_until_due(b: &dyn Backend, q: &str) -> CheckResult {
    let mut e = env(q, 1);
    e.eta = Some(Timestamp::now().after(Duration::from_millis(400)));
    let id = e.id;
    publish(b, vec![e, env(q, 2)]).await?;
    ensure!(
        state(b, id).await? == Some(TaskState::Scheduled),
        "a delayed task is not scheduled"
    );
    let now = fetch(b, q, 10, NOW).await?;
    ensure!(
        now.len() == 1 && arg(&now[0])? == 2,
        "a delayed task was delivered before its time"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = fetch(b, q, 10, NOW).await?;
    ensure!(
        later.len() == 1 && later[0].envelope.id == id,
        "a due task was not delivered"
    );
    Ok(())
}

async fn delayed_wakes_idle_fetch(b: &dyn Backend, q: &str) -> CheckResult {
    let mut e = env(q, 1);
    e.eta = Some(Timestamp::now().after(Duration::from_millis(300)));
    publish(b, vec![e]).await?;
    let started = tokio::time::Instant::now();
    let got = fetch(b, q, 1, Duration::from_secs(5)).await?;
    let waited = started.elapsed();
    ensure!(
        got.len() == 1,
        "a blocked fetch did not return the delayed task when due"
    );
    ensure!(
        waited >= Duration::from_millis(250),
        "the delayed task came {waited:?} early"
    );
    ensure!(
        waited < Duration::from_millis(1500),
        "the delayed task came {waited:?} after it was due"
    );
    Ok(())
}

async fn expired_lease_redelivers_and_fences(b: &dyn Backend, q: &str) -> CheckResult {
    let e = env(q, 1);
    let id = e.id;
    publish(b, vec![e]).await?;
    let queues = [q.to_owned()];
    let mut req = lease_req(&queues, 1, NOW);
    req.lease = Duration::from_millis(200);
    let first = b.fetch(req).await.map_err(|e| e.to_string())?;
    ensure!(first.len() == 1, "no first delivery");
    let again = fetch(b, q, 1, NOW).await?;
    ensure!(
        again.is_empty(),
        "a leased task was delivered twice while its lease held"
    );
    let second = fetch_one(b, q, Duration::from_secs(3)).await?;
    ensure!(second.envelope.id == id, "another task came back");
    ensure!(
        second.envelope.attempt == 2,
        "the redelivery has attempt {}, not 2",
        second.envelope.attempt
    );
    // The first worker wakes up late: nothing it does may touch the new delivery.
    let stale = b
        .complete(&[success(&first[0], 1, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        stale == vec![false],
        "a stale lease's completion was accepted"
    );
    let failure = TaskFailure::new(FailureKind::Error, "stale");
    ensure!(
        !b.retry(&first[0].lease, NOW, &failure)
            .await
            .map_err(|e| e.to_string())?,
        "a stale lease's retry was accepted"
    );
    let dl = b
        .dead_letter(
            &first[0].lease,
            DeadLetterReason::AttemptsExhausted,
            &failure,
            TTL,
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure!(!dl, "a stale lease's dead-letter was accepted");
    let ext = b
        .extend(std::slice::from_ref(&first[0].lease), SHORT)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        ext == vec![LeaseStatus::Lost],
        "a stale lease was extended: {ext:?}"
    );
    ensure!(
        state(b, id).await? == Some(TaskState::Running),
        "a stale write changed the state"
    );
    let ok = b
        .complete(&[success(&second, 2, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        ok == vec![true],
        "the current lease's completion was refused"
    );
    match b
        .wait_result(id, Some(SHORT))
        .await
        .map_err(|e| e.to_string())?
    {
        Some(Outcome::Success(p)) => ensure!(
            p.decode::<u32>().ok() == Some(2),
            "the stale result won: {p:?}"
        ),
        other => {
            return Err(format!(
                "expected the second delivery's result, got {other:?}"
            ))
        }
    }
    Ok(())
}

async fn extend_keeps_lease(b: &dyn Backend, q: &str) -> CheckResult {
    publish(b, vec![env(q, 1)]).await?;
    let queues = [q.to_owned()];
    let mut req = lease_req(&queues, 1, NOW);
    req.lease = Duration::from_millis(300);
    let d = b.fetch(req).await.map_err(|e| e.to_string())?;
    ensure!(d.len() == 1, "no delivery");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let st = b
            .extend(
                std::slice::from_ref(&d[0].lease),
                Duration::from_millis(300),
            )
            .await
            .map_err(|e| e.to_string())?;
        ensure!(st == vec![LeaseStatus::Held], "extend said {st:?}");
    }
    ensure!(
        fetch(b, q, 1, NOW).await?.is_empty(),
        "an extended lease expired"
    );
    Ok(())
}

async fn retry_later_counts_attempts(b: &dyn Backend, q: &str) -> CheckResult {
    let e = env(q, 1);
    let id = e.id;
    publish(b, vec![e]).await?;
    let d = fetch_one(b, q, NOW).await?;
    let failure = TaskFailure::new(FailureKind::Error, "boom");
    let ok = b
        .retry(&d.lease, Duration::from_millis(300), &failure)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(ok, "retry with the current lease was refused");
    ensure!(
        state(b, id).await? == Some(TaskState::Retrying),
        "a task waiting for its retry is not retrying"
    );
    ensure!(
        fetch(b, q, 1, NOW).await?.is_empty(),
        "a retry came before its delay"
    );
    let again = fetch_one(b, q, Duration::from_secs(3)).await?;
    ensure!(
        again.envelope.attempt == 2,
        "the retry has attempt {}, not 2",
        again.envelope.attempt
    );
    Ok(())
}

async fn release_does_not_count(b: &dyn Backend, q: &str) -> CheckResult {
    publish(b, vec![env(q, 1)]).await?;
    let d = fetch_one(b, q, NOW).await?;
    b.release(vec![d.lease.clone()])
        .await
        .map_err(|e| e.to_string())?;
    let again = fetch_one(b, q, NOW).await?;
    ensure!(
        again.envelope.attempt == 1,
        "a released task came back with attempt {}, not 1",
        again.envelope.attempt
    );
    let stale = b
        .complete(&[success(&d, 1, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    // Same attempt number, but the lease was handed back and taken anew: either answer is
    // acceptable only if the new lease still completes.
    let _ = stale;
    let ok = b
        .complete(&[success(&again, 1, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        ok.len() == 1,
        "complete answered for {} completions",
        ok.len()
    );
    ensure!(
        state(b, again.envelope.id).await? == Some(TaskState::Succeeded),
        "not succeeded after completion"
    );
    Ok(())
}

async fn dead_letter_requeue_purge(b: &dyn Backend, q: &str) -> CheckResult {
    let e1 = env(q, 1);
    let e2 = env(q, 2);
    let (id1, id2) = (e1.id, e2.id);
    publish(b, vec![e1, e2]).await?;
    let ds = fetch(b, q, 2, NOW).await?;
    ensure!(ds.len() == 2, "fetched {} of 2", ds.len());
    for d in &ds {
        let failure = TaskFailure::new(FailureKind::Rejected, "unknown task `conformance.task`");
        let ok = b
            .dead_letter(&d.lease, DeadLetterReason::UnknownTask, &failure, TTL, None)
            .await
            .map_err(|e| e.to_string())?;
        ensure!(ok, "dead-letter with the current lease was refused");
    }
    let dead = b.dead_letters(q, 10).await.map_err(|e| e.to_string())?;
    ensure!(
        dead.len() == 2,
        "{} dead letters listed, want 2",
        dead.len()
    );
    ensure!(
        dead.iter().all(
            |d| d.reason == DeadLetterReason::UnknownTask && d.message.contains("unknown task")
        ),
        "the reason was not kept: {dead:?}"
    );
    ensure!(
        dead.iter().all(|d| d.envelope.is_some()),
        "the envelope was not kept"
    );
    match b
        .wait_result(id1, Some(SHORT))
        .await
        .map_err(|e| e.to_string())?
    {
        Some(Outcome::Failure(f)) => ensure!(
            f.kind == FailureKind::Rejected,
            "the stored failure is {f:?}"
        ),
        other => return Err(format!("a dead-lettered task's waiter got {other:?}")),
    }
    ensure!(
        state(b, id1).await? == Some(TaskState::Failed),
        "a dead-lettered task is not failed"
    );
    ensure!(
        fetch(b, q, 10, NOW).await?.is_empty(),
        "a dead letter was delivered"
    );
    let n = b
        .requeue_dead(q, &DeadSelection::Ids(vec![id2]), usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(n == 1, "requeue of one id moved {n}");
    let back = fetch_one(b, q, NOW).await?;
    ensure!(
        back.envelope.id == id2 && back.envelope.attempt == 1,
        "the requeued task came back as {:?} attempt {}",
        back.envelope.id,
        back.envelope.attempt
    );
    let left = b.dead_letters(q, 10).await.map_err(|e| e.to_string())?;
    ensure!(
        left.len() == 1 && left[0].id == id1,
        "the other dead letter was not kept"
    );
    let purged = b
        .purge_dead(q, &DeadSelection::All, usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(purged == 1, "purge removed {purged}, want 1");
    ensure!(
        b.dead_letters(q, 10)
            .await
            .map_err(|e| e.to_string())?
            .is_empty(),
        "purge left dead letters"
    );
    Ok(())
}

async fn cancel_queued_and_delayed(b: &dyn Backend, q: &str) -> CheckResult {
    let queued = env(q, 1);
    let mut delayed = env(q, 2);
    delayed.eta = Some(Timestamp::now().after(Duration::from_millis(200)));
    let (a, d) = (queued.id, delayed.id);
    publish(b, vec![queued, delayed]).await?;
    ensure!(
        b.cancel(a).await.map_err(|e| e.to_string())? == CancelOutcome::Removed,
        "cancel of a queued task did not remove it"
    );
    ensure!(
        b.cancel(d).await.map_err(|e| e.to_string())? == CancelOutcome::Removed,
        "cancel of a delayed task did not remove it"
    );
    ensure!(
        state(b, a).await? == Some(TaskState::Cancelled),
        "a revoked task is not cancelled"
    );
    match b
        .wait_result(d, Some(SHORT))
        .await
        .map_err(|e| e.to_string())?
    {
        Some(Outcome::Failure(f)) => ensure!(
            f.kind == FailureKind::Cancelled,
            "the stored failure is {f:?}"
        ),
        other => return Err(format!("a revoked task's waiter got {other:?}")),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    ensure!(
        fetch(b, q, 10, NOW).await?.is_empty(),
        "a revoked task was delivered"
    );
    ensure!(
        b.cancel(TaskId::new()).await.map_err(|e| e.to_string())? == CancelOutcome::NotFound,
        "cancel of an unknown id found something"
    );
    Ok(())
}

async fn cancel_running_signals_worker(b: &dyn Backend, q: &str) -> CheckResult {
    publish(b, vec![env(q, 1)]).await?;
    let d = fetch_one(b, q, NOW).await?;
    let outcome = b.cancel(d.envelope.id).await.map_err(|e| e.to_string())?;
    ensure!(
        outcome == CancelOutcome::Signalled,
        "cancel of a running task said {outcome:?}"
    );
    let st = b
        .extend(std::slice::from_ref(&d.lease), SHORT)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        st == vec![LeaseStatus::Cancelled],
        "the worker was not told: extend said {st:?}"
    );
    Ok(())
}

async fn expired_message_fails(b: &dyn Backend, q: &str) -> CheckResult {
    let mut e = env(q, 1);
    e.expires = Some(Timestamp::now().after(Duration::from_millis(100)));
    let id = e.id;
    publish(b, vec![e, env(q, 2)]).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = fetch(b, q, 10, NOW).await?;
    ensure!(
        got.len() == 1 && arg(&got[0])? == 2,
        "an expired message was delivered"
    );
    match b
        .wait_result(id, Some(SHORT))
        .await
        .map_err(|e| e.to_string())?
    {
        Some(Outcome::Failure(f)) => ensure!(
            f.kind == FailureKind::Expired,
            "the stored failure is {f:?}"
        ),
        other => return Err(format!("an expired task's waiter got {other:?}")),
    }
    Ok(())
}

async fn result_ttl_expires(b: &dyn Backend, q: &str) -> CheckResult {
    publish(b, vec![env(q, 1)]).await?;
    let d = fetch_one(b, q, NOW).await?;
    let id = d.envelope.id;
    b.complete(&[success(&d, 1, Some(Duration::from_millis(1000)))])
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        state(b, id).await? == Some(TaskState::Succeeded),
        "no result right after completion"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ensure!(
        b.record(id).await.map_err(|e| e.to_string())?.is_none(),
        "the result outlived its TTL"
    );
    Ok(())
}

async fn ignored_result_still_wakes(b: &dyn Backend, q: &str) -> CheckResult {
    publish(b, vec![env(q, 1)]).await?;
    let d = fetch_one(b, q, NOW).await?;
    let id = d.envelope.id;
    let waiter = b.wait_result(id, Some(SHORT));
    let completer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.complete(&[success(&d, 5, None)]).await
    };
    let (waited, completed) = tokio::join!(waiter, completer);
    completed.map_err(|e| e.to_string())?;
    ensure!(
        matches!(waited, Ok(Some(Outcome::Success(_)))),
        "a waiter was not woken by an unstored result: {waited:?}"
    );
    ensure!(
        b.record(id).await.map_err(|e| e.to_string())?.is_none(),
        "an ignored result was stored"
    );
    Ok(())
}

async fn wait_result_times_out(b: &dyn Backend, q: &str) -> CheckResult {
    publish(b, vec![env(q, 1)]).await?;
    let d = fetch_one(b, q, NOW).await?;
    let started = tokio::time::Instant::now();
    let out = b
        .wait_result(d.envelope.id, Some(Duration::from_millis(300)))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(out.is_none(), "a waiter got {out:?} for a running task");
    let waited = started.elapsed();
    ensure!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "a 300 ms wait took {waited:?}"
    );
    // A waiter that arrives first is woken promptly by the completion.
    let waiter = b.wait_result(d.envelope.id, Some(Duration::from_secs(5)));
    let completer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.complete(&[success(&d, 3, TTL)]).await
    };
    let started = tokio::time::Instant::now();
    let (waited, completed) = tokio::join!(waiter, completer);
    completed.map_err(|e| e.to_string())?;
    ensure!(
        matches!(waited, Ok(Some(Outcome::Success(_)))),
        "the waiter got {waited:?}"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(1),
        "the waiter woke {:?} after a completion 100 ms in",
        started.elapsed()
    );
    Ok(())
}

async fn progress_is_recorded(b: &dyn Backend, q: &str) -> CheckResult {
    publish(b, vec![env(q, 1)]).await?;
    let d = fetch_one(b, q, NOW).await?;
    let p =
        Payload::encode(&serde_json::json!({"done": 3, "of": 10})).map_err(|e| e.to_string())?;
    b.set_progress(&d.lease, p.clone())
        .await
        .map_err(|e| e.to_string())?;
    let rec = b.record(d.envelope.id).await.map_err(|e| e.to_string())?;
    let got = rec.and_then(|r| r.progress);
    ensure!(
        got.as_ref()
            .map(Payload::as_str)
            .map(|s| s.replace(' ', ""))
            == Some(p.as_str().replace(' ', "")),
        "progress came back as {got:?}"
    );
    Ok(())
}

async fn counters_add_up(b: &dyn Backend, q: &str) -> CheckResult {
    let key = format!("{q}-counter");
    let other = format!("{q}-other");
    let ttl = Duration::from_secs(60);
    let mut last = 0;
    for _ in 0..5 {
        last = b
            .incr_counter(&key, 1, ttl)
            .await
            .map_err(|e| e.to_string())?;
    }
    ensure!(last == 5, "five increments gave {last}");
    ensure!(
        b.incr_counter(&other, 10, ttl)
            .await
            .map_err(|e| e.to_string())?
            == 10,
        "counters are not independent"
    );
    ensure!(
        b.incr_counter(&key, -2, ttl)
            .await
            .map_err(|e| e.to_string())?
            == 3,
        "a negative step did not subtract"
    );
    Ok(())
}

async fn queue_stats_count(b: &dyn Backend, q: &str) -> CheckResult {
    let mut delayed = env(q, 9);
    delayed.eta = Some(Timestamp::now().after(Duration::from_secs(60)));
    publish(b, vec![env(q, 1), env(q, 2), env(q, 3), delayed]).await?;
    let d = fetch_one(b, q, NOW).await?;
    let failure = TaskFailure::new(FailureKind::Rejected, "x");
    let _ = fetch_one(b, q, NOW).await?;
    b.dead_letter(
        &d.lease,
        DeadLetterReason::UndecodableArguments,
        &failure,
        TTL,
        None,
    )
    .await
    .map_err(|e| e.to_string())?;
    let s = b.queue_stats(q).await.map_err(|e| e.to_string())?;
    ensure!(
        s.ready == 1 && s.delayed == 1 && s.running == 1 && s.dead == 1,
        "stats are {s:?}, want 1 ready, 1 delayed, 1 running, 1 dead"
    );
    ensure!(!s.paused, "a queue nobody paused is paused: {s:?}");
    let oldest = s
        .oldest_ready
        .ok_or("no oldest ready time with a task ready")?;
    let age = Timestamp::now().0.saturating_sub(oldest.0);
    ensure!(
        age < 60_000,
        "the oldest ready task is {age} ms old, but it was published just now"
    );
    Ok(())
}

async fn publish_once_dedups_by_id(b: &dyn Backend, q: &str) -> CheckResult {
    let e = env(q, 1);
    let ttl = Duration::from_secs(60);
    let first = b
        .publish_once(vec![e.clone(), env(q, 2)], ttl)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(first == 2, "publish_once of two new ids published {first}");
    let again = b
        .publish_once(vec![e.clone()], ttl)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(again == 0, "publish_once published an id twice");
    let got = fetch(b, q, 10, NOW).await?;
    ensure!(got.len() == 2, "{} deliveries, want 2", got.len());
    // Still deduplicated after the first one completed.
    let d = got
        .iter()
        .find(|d| d.envelope.id == e.id)
        .ok_or("the message is missing")?;
    b.complete(&[success(d, 1, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    let after = b
        .publish_once(vec![e], ttl)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(after == 0, "publish_once republished a finished id");
    ensure!(
        fetch(b, q, 10, NOW).await?.is_empty(),
        "a duplicate was delivered"
    );
    Ok(())
}

async fn join_keeps_first_value_per_slot(b: &dyn Backend, q: &str) -> CheckResult {
    let key = format!("{q}-join");
    let ttl = Duration::from_secs(60);
    let p = |n: u32| Payload::encode(&n).map_err(|e| e.to_string());
    let r = b
        .join(&key, 2, 3, p(20)?, ttl)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(r.is_none(), "a join of 3 fired after one slot");
    let r = b
        .join(&key, 0, 3, p(0)?, ttl)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(r.is_none(), "a join of 3 fired after two slots");
    // The same slot again (a member that ran twice): the first value stays, no firing.
    let r = b
        .join(&key, 0, 3, p(99)?, ttl)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(r.is_none(), "a join fired on a repeated slot");
    let r = b
        .join(&key, 1, 3, p(10)?, ttl)
        .await
        .map_err(|e| e.to_string())?;
    let values: Vec<u32> = r
        .ok_or("a join of 3 did not fire with three slots")?
        .iter()
        .map(|v| v.decode::<u32>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    ensure!(
        values == vec![0, 10, 20],
        "join values {values:?}, want slot order [0, 10, 20] with the first write kept"
    );
    Ok(())
}

async fn resolve_keeps_the_first_outcome(b: &dyn Backend, _q: &str) -> CheckResult {
    let id = TaskId::new();
    let waiter = b.wait_result(id, Some(SHORT));
    let resolver = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let failure = TaskFailure::new(FailureKind::Cancelled, "revoked");
        let first = b
            .resolve(id, Outcome::Failure(failure), TTL, None)
            .await
            .map_err(|e| e.to_string())?;
        let second = b
            .resolve(id, Outcome::Success(Payload::null()), TTL, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((first, second))
    };
    let (waited, resolved) = tokio::join!(waiter, resolver);
    let (first, second) = resolved?;
    ensure!(
        first && !second,
        "resolve answered {first} then {second}, want true then false"
    );
    match waited.map_err(|e| e.to_string())? {
        Some(Outcome::Failure(f)) => ensure!(f.kind == FailureKind::Cancelled, "waiter got {f:?}"),
        other => return Err(format!("a waiter was not woken by resolve: {other:?}")),
    }
    ensure!(
        state(b, id).await? == Some(TaskState::Cancelled),
        "the first outcome was not kept"
    );
    Ok(())
}
