//! Conformance checks of unique tasks ([`crate::unique`]): a key is held while its task is
//! queued, running or retrying, released by any end in the same step, and at most its TTL.

use std::time::Duration;

use futures_util::future::join_all;

use super::{env, fetch, success, CheckResult, NOW, SHORT, TTL};
use crate::backend::{Backend, CancelOutcome};
use crate::message::{DeadLetterReason, Envelope, FailureKind, TaskFailure, TaskId, Timestamp};
use crate::unique::UniqueOutcome;

const WINDOW: Duration = Duration::from_secs(60);

async fn unique(b: &dyn Backend, e: Envelope, key: &str) -> Result<UniqueOutcome, String> {
    b.publish_unique(e, key, WINDOW)
        .await
        .map_err(|e| format!("publish_unique failed: {e}"))
}

/// Publishes a fresh message under `key` and says whether it was new.
async fn is_new(b: &dyn Backend, q: &str, key: &str) -> Result<bool, String> {
    Ok(unique(b, env(q, 0), key).await? == UniqueOutcome::New)
}

fn expect_existing(got: UniqueOutcome, holder: TaskId, when: &str) -> CheckResult {
    ensure!(
        got == UniqueOutcome::Existing(holder),
        "a second enqueue {when} answered {got:?}, want Existing({holder})"
    );
    Ok(())
}

/// The key is held while the task is queued, running and waiting for its retry; a success
/// releases it.
pub(super) async fn unique_key_held_until_the_task_ends(b: &dyn Backend, q: &str) -> CheckResult {
    let first = env(q, 1);
    let id = first.id;
    ensure!(
        unique(b, first, "k").await? == UniqueOutcome::New,
        "the first enqueue of a key was not new"
    );
    expect_existing(unique(b, env(q, 2), "k").await?, id, "while queued")?;
    ensure!(
        is_new(b, q, "other").await?,
        "another key was taken as a duplicate"
    );
    let ds = fetch(b, q, 10, NOW).await?;
    let Some(d) = ds.iter().find(|d| d.envelope.id == id) else {
        return Err("the unique task was not delivered".to_owned());
    };
    ensure!(
        ds.len() == 2,
        "{} deliveries, want 2 (the duplicate was enqueued?)",
        ds.len()
    );
    expect_existing(unique(b, env(q, 3), "k").await?, id, "while running")?;
    let failure = TaskFailure::new(FailureKind::Error, "try again");
    let ok = b
        .retry(&d.lease, Duration::from_millis(50), &failure)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(ok, "retry with the current lease was refused");
    expect_existing(unique(b, env(q, 4), "k").await?, id, "while retrying")?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = fetch(b, q, 10, SHORT).await?;
    let Some(d) = again.iter().find(|d| d.envelope.id == id) else {
        return Err("the retried unique task was not delivered again".to_owned());
    };
    let done = b
        .complete(&[success(d, 1, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    ensure!(done == [true], "complete answered {done:?}");
    ensure!(
        is_new(b, q, "k").await?,
        "the key was still held after the task succeeded"
    );
    Ok(())
}

/// A dead letter, a revocation (queued or delayed) and a purge release the key.
pub(super) async fn unique_key_released_by_every_end(b: &dyn Backend, q: &str) -> CheckResult {
    // Dead letter.
    let dead = env(q, 1);
    let dead_id = dead.id;
    ensure!(
        unique(b, dead, "dead").await? == UniqueOutcome::New,
        "not new"
    );
    let ds = fetch(b, q, 1, NOW).await?;
    let Some(d) = ds.first() else {
        return Err("nothing delivered".to_owned());
    };
    ensure!(d.envelope.id == dead_id, "another task was delivered");
    let failure = TaskFailure::new(FailureKind::Error, "last attempt");
    let ok = b
        .dead_letter(
            &d.lease,
            DeadLetterReason::AttemptsExhausted,
            &failure,
            TTL,
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure!(ok, "dead-letter with the current lease was refused");
    ensure!(
        is_new(b, q, "dead").await?,
        "the key was still held after the dead letter"
    );

    // Revocation of a delayed task.
    let mut later = env(q, 2);
    later.eta = Some(Timestamp::now().after(Duration::from_secs(30)));
    let later_id = later.id;
    ensure!(
        unique(b, later, "cancel").await? == UniqueOutcome::New,
        "not new"
    );
    let got = b.cancel(later_id).await.map_err(|e| e.to_string())?;
    ensure!(got == CancelOutcome::Removed, "cancel answered {got:?}");
    ensure!(
        is_new(b, q, "cancel").await?,
        "the key was still held after the revocation"
    );

    // Purge of the queue (it also takes the tasks published above).
    let purged = env(q, 3);
    ensure!(
        unique(b, purged, "purge").await? == UniqueOutcome::New,
        "not new"
    );
    b.purge_queue(q).await.map_err(|e| e.to_string())?;
    ensure!(
        is_new(b, q, "purge").await?,
        "the key was still held after the purge"
    );
    Ok(())
}

/// The TTL frees a key whose task still waits; a task that expired unstarted frees its key;
/// keys are per queue.
pub(super) async fn unique_key_ttl_is_a_safety_net(b: &dyn Backend, q: &str) -> CheckResult {
    let short = Duration::from_millis(200);
    let first = b
        .publish_unique(env(q, 1), "ttl", short)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(first == UniqueOutcome::New, "not new");
    tokio::time::sleep(Duration::from_millis(400)).await;
    ensure!(
        is_new(b, q, "ttl").await?,
        "the key was still held after its TTL"
    );

    let mut expiring = env(q, 2);
    expiring.expires = Some(Timestamp::now().after(Duration::from_millis(50)));
    ensure!(
        unique(b, expiring, "expires").await? == UniqueOutcome::New,
        "not new"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The fetch finds it expired and fails it.
    let _ = fetch(b, q, 10, NOW).await?;
    ensure!(
        is_new(b, q, "expires").await?,
        "the key of a task that expired unstarted was still held"
    );

    let other = format!("{q}-other");
    ensure!(
        is_new(b, &other, "ttl").await?,
        "a key of another queue was taken as a duplicate"
    );
    b.purge_queue(&other).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Of many concurrent enqueues of one key, exactly one is new; all the others name it.
pub(super) async fn unique_key_concurrent_enqueues_make_one_task(
    b: &dyn Backend,
    q: &str,
) -> CheckResult {
    let envs: Vec<Envelope> = (0..32).map(|n| env(q, n)).collect();
    let outcomes = join_all(envs.into_iter().map(|e| unique(b, e, "race"))).await;
    let mut new = 0;
    let mut holders = std::collections::HashSet::new();
    for o in outcomes {
        match o? {
            UniqueOutcome::New => new += 1,
            UniqueOutcome::Existing(id) => {
                holders.insert(id);
            }
        }
    }
    ensure!(new == 1, "{new} of 32 concurrent enqueues were new, want 1");
    ensure!(
        holders.len() == 1,
        "the duplicates named {} holders",
        holders.len()
    );
    let stats = b.queue_stats(q).await.map_err(|e| e.to_string())?;
    ensure!(stats.ready == 1, "{} tasks queued, want 1", stats.ready);
    Ok(())
}
