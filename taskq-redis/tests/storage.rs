//! What the Redis backend leaves in the server: expired results are swept from memory (and a
//! newer result of the same id is not), the attempt count is written only when a delivery ends
//! unfinished, and a second copy of a leased id fences off the first delivery.

use std::time::Duration;

use taskq::backend::{Backend, Completion, FetchRequest};
use taskq::{Delivery, Envelope, Outcome, Payload, TaskState};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

async fn backend(server: &RedisServer) -> RedisBackend {
    RedisBackend::connect(&server.url())
        .await
        .expect("connect to the private redis-server")
}

fn envelope(queue: &str, n: u32) -> Envelope {
    let args = Payload::encode(&n).expect("encode");
    Envelope::new("storage.task", queue, args)
}

async fn fetch(b: &RedisBackend, queue: &str, lease: Duration) -> Vec<Delivery> {
    let queues = [queue.to_owned()];
    b.fetch(FetchRequest {
        queues: &queues,
        max: 10,
        lease,
        wait: Duration::ZERO,
    })
    .await
    .expect("fetch")
}

fn success(d: &Delivery, value: u32, ttl: Duration) -> Completion {
    Completion {
        lease: d.lease.clone(),
        outcome: Outcome::Success(Payload::encode(&value).expect("encode")),
        result_ttl: Some(ttl),
        reply_to: d.envelope.reply_to.clone(),
        task: Some(d.envelope.task.clone().into()),
        started_at: Some(taskq::Timestamp::now()),
        args: None,
    }
}

/// Completes one delivery with `value`; whether its lease was current.
async fn completes(b: &RedisBackend, d: &Delivery, value: u32, ttl: Duration) -> bool {
    b.complete(&[success(d, value, ttl)])
        .await
        .expect("complete")
        == vec![true]
}

/// `HLEN`, `ZCARD` or `EXISTS` of one of a queue's keys (`tag` is the queue's hash tag).
fn size(server: &RedisServer, cmd: &str, tag: &str, key: &str) -> i64 {
    int(server
        .query(&[cmd, &format!("{tag}:{key}")])
        .expect("a size query"))
}

fn int(v: redis::Value) -> i64 {
    match v {
        redis::Value::Int(i) => i,
        other => panic!("expected an integer reply, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_results_are_swept_but_a_newer_result_of_the_same_id_stays() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "sweep";
    let tag = b.queue_tag(q);
    let results = format!("{tag}:results");
    let expiry = format!("{tag}:expiry");

    let (old, renewed) = (envelope(q, 1), envelope(q, 2));
    let renewed_id = renewed.id;
    b.publish(vec![old, renewed]).await.expect("publish");
    let got = fetch(&b, q, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 2);
    let short = Duration::from_millis(300);
    let done = b
        .complete(&got.iter().map(|d| success(d, 7, short)).collect::<Vec<_>>())
        .await
        .expect("complete");
    assert_eq!(done, vec![true, true]);
    assert_eq!(int(server.query(&["HLEN", &results]).expect("HLEN")), 2);
    // One sweep entry for the batch, not one per result.
    assert_eq!(int(server.query(&["ZCARD", &expiry]).expect("ZCARD")), 1);

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        b.record(renewed_id).await.expect("record").is_none(),
        "an expired result is still visible"
    );
    // A newer outcome for one of the ids, kept for a minute.
    let stored = b
        .resolve(
            renewed_id,
            Outcome::Success(Payload::encode(&9u32).expect("encode")),
            Some(Duration::from_secs(60)),
            None,
        )
        .await
        .expect("resolve");
    assert!(stored, "an expired result blocked a new one");

    // A fetch that finds nothing runs the timer pass, which sweeps the old batch.
    assert!(fetch(&b, q, Duration::from_secs(30)).await.is_empty());
    assert_eq!(
        int(server.query(&["HLEN", &results]).expect("HLEN")),
        1,
        "the expired result was not swept, or the newer one was"
    );
    assert_eq!(int(server.query(&["ZCARD", &expiry]).expect("ZCARD")), 1);
    let record = b.record(renewed_id).await.expect("record").expect("kept");
    assert_eq!(record.state, TaskState::Succeeded);
    match record.outcome {
        Some(Outcome::Success(p)) => assert_eq!(p.decode::<u32>().expect("decode"), 9),
        other => panic!("expected the newer result, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_written_only_when_a_delivery_ends_unfinished() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "attempts";
    let attempt_key = format!("{}:attempt", b.queue_tag(q));
    let exists = || int(server.query(&["EXISTS", &attempt_key]).expect("EXISTS"));

    b.publish(vec![envelope(q, 1)]).await.expect("publish");
    let first = fetch(&b, q, Duration::from_millis(200)).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].envelope.attempt, 1);
    assert_eq!(exists(), 0, "a first delivery wrote an attempt count");

    // The lease runs out: the reclaim counts the delivery, the next one is attempt 2.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = fetch(&b, q, Duration::from_secs(30)).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].envelope.attempt, 2);
    assert_eq!(exists(), 1);
    assert!(
        !completes(&b, &first[0], 1, Duration::from_secs(60)).await,
        "the reclaimed delivery completed"
    );
    assert!(completes(&b, &second[0], 2, Duration::from_secs(60)).await);
    assert_eq!(exists(), 0, "a finished task left its attempt count");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_copy_of_a_leased_id_fences_off_the_first_delivery() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "copies";
    let e = envelope(q, 1);
    // The same message published twice (a retried publish whose first reply was lost).
    b.publish(vec![e.clone()]).await.expect("publish");
    let first = fetch(&b, q, Duration::from_secs(30)).await;
    assert_eq!(first.len(), 1);
    b.publish(vec![e]).await.expect("publish again");
    let second = fetch(&b, q, Duration::from_secs(30)).await;
    assert_eq!(second.len(), 1, "the second copy was not delivered");
    assert_eq!(second[0].envelope.id, first[0].envelope.id);
    assert_eq!(second[0].envelope.attempt, 2);
    assert!(
        !completes(&b, &first[0], 1, Duration::from_secs(60)).await,
        "the fenced-off delivery completed"
    );
    assert!(completes(&b, &second[0], 2, Duration::from_secs(60)).await);
    let dead = b.dead_letters(q, 10).await.expect("dead letters");
    assert!(dead.is_empty(), "a copy was dead-lettered: {dead:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_copy_of_a_finished_task_is_dropped_without_a_trace() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "stale";
    let tag = b.queue_tag(q);
    let e = envelope(q, 1);
    let id = e.id.to_string();
    b.publish(vec![e]).await.expect("publish");
    let got = fetch(&b, q, Duration::from_secs(30)).await;
    assert!(completes(&b, &got[0], 1, Duration::from_secs(60)).await);
    // A copy of the id left behind in the ready list (priority 5 is the default).
    server
        .query(&["RPUSH", &format!("{tag}:r5"), &id])
        .expect("RPUSH");
    assert!(fetch(&b, q, Duration::from_secs(30)).await.is_empty());
    assert_eq!(
        int(server
            .query(&["EXISTS", &format!("{tag}:lease")])
            .expect("EXISTS")),
        0,
        "the stale copy kept a lease"
    );
    assert!(b.dead_letters(q, 10).await.expect("dead").is_empty());
    let record = b.record(got[0].envelope.id).await.expect("record");
    assert_eq!(record.map(|r| r.state), Some(TaskState::Succeeded));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_messages_wait_apart_until_due() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "later";
    let tag = b.queue_tag(q);
    let hlen = |key: &str| size(&server, "HLEN", &tag, key);
    let (mut soon, mut revoked) = (envelope(q, 1), envelope(q, 2));
    soon.eta = Some(taskq::Timestamp::now().after(Duration::from_millis(300)));
    revoked.eta = Some(taskq::Timestamp::now().after(Duration::from_secs(3600)));
    let (soon_id, revoked_id) = (soon.id, revoked.id);
    b.publish(vec![soon, revoked]).await.expect("publish");
    assert_eq!((hlen("env"), hlen("denv")), (0, 2));
    let state = b.record(soon_id).await.expect("record").map(|r| r.state);
    assert_eq!(state, Some(TaskState::Scheduled));
    assert_eq!(
        b.cancel(revoked_id).await.expect("cancel"),
        taskq::backend::CancelOutcome::Removed
    );
    assert_eq!(hlen("denv"), 1);

    let queues = [q.to_owned()];
    let got = b
        .fetch(FetchRequest {
            queues: &queues,
            max: 10,
            lease: Duration::from_secs(30),
            wait: Duration::from_secs(3),
        })
        .await
        .expect("fetch");
    assert_eq!(got.len(), 1, "the due task was not delivered");
    assert_eq!(got[0].envelope.id, soon_id);
    assert_eq!(got[0].envelope.args.decode::<u32>().expect("args"), 1);
    assert_eq!((hlen("env"), hlen("denv")), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sweep_clears_many_single_result_batches() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "singles";
    let tag = b.queue_tag(q);
    let count =
        |cmd: &str, key: &str| int(server.query(&[cmd, &format!("{tag}:{key}")]).expect(cmd));
    b.publish((0..30).map(|n| envelope(q, n)).collect())
        .await
        .expect("publish");
    let got = fetch(&b, q, Duration::from_secs(30)).await;
    let got = [
        got,
        fetch(&b, q, Duration::from_secs(30)).await,
        fetch(&b, q, Duration::from_secs(30)).await,
    ]
    .concat();
    assert_eq!(got.len(), 30);
    // One completion per call: one sweep entry each.
    for d in &got {
        assert!(completes(&b, d, 1, Duration::from_millis(300)).await);
    }
    assert_eq!(count("ZCARD", "expiry"), 30);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(fetch(&b, q, Duration::ZERO).await.is_empty());
    assert_eq!(count("HLEN", "results"), 0, "expired results left behind");
    assert_eq!(count("ZCARD", "expiry"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_copy_of_a_task_that_already_ran_is_dropped_when_due() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "twice";
    let tag = b.queue_tag(q);
    let hlen = |key: &str| size(&server, "HLEN", &tag, key);
    let mut e = envelope(q, 1);
    e.eta = Some(taskq::Timestamp::now().after(Duration::from_millis(300)));
    b.publish(vec![e.clone()]).await.expect("publish scheduled");
    // The same id again, ready now (a publish repeated after its eta), runs and finishes.
    e.eta = None;
    b.publish(vec![e]).await.expect("publish ready");
    let got = fetch(&b, q, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1);
    assert!(completes(&b, &got[0], 1, Duration::from_secs(60)).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let queues = [q.to_owned()];
    let again = b
        .fetch(FetchRequest {
            queues: &queues,
            max: 10,
            lease: Duration::from_secs(30),
            wait: Duration::from_millis(300),
        })
        .await
        .expect("fetch");
    assert!(again.is_empty(), "the finished task ran again");
    assert_eq!((hlen("env"), hlen("denv")), (0, 0));
}

/// A publish is written from its caller's task when nothing else is being written; publishes
/// that arrive meanwhile wait for it. If that caller's future is dropped mid-write, the waiting
/// publishes still go out (a flusher takes them over) instead of hanging.
#[tokio::test(flavor = "current_thread")]
async fn publishes_waiting_on_a_dropped_inline_write_still_go_out() {
    use futures_util::FutureExt;
    use std::sync::Arc;

    let server = RedisServer::start();
    let b = Arc::new(backend(&server).await);
    let q = "inline";
    let mut first = Box::pin({
        let b = b.clone();
        async move { b.publish(vec![envelope(q, 0)]).await }
    });
    // One poll: the first publish becomes the inline writer and waits for Redis.
    assert!(
        (&mut first).now_or_never().is_none(),
        "the write finished at once"
    );
    let waiting: Vec<Envelope> = (1..=3).map(|n| envelope(q, n)).collect();
    let ids: Vec<_> = waiting.iter().map(|e| e.id).collect();
    let mut tasks = Vec::new();
    for env in waiting {
        let b = b.clone();
        tasks.push(tokio::spawn(async move { b.publish(vec![env]).await }));
    }
    // Let them queue behind the inline write, then drop the writer.
    tokio::task::yield_now().await;
    drop(first);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("a publish waiting on the dropped write hung")
            .expect("join")
            .expect("publish");
    }
    for id in ids {
        let record = b.record(id).await.expect("record").expect("published");
        assert_eq!(record.state, TaskState::Pending);
    }
}

/// A message whose result is not kept names no reply channel (nobody can wait for it through
/// a handle), yet a waiter that asks the backend directly is still woken, through the queue's
/// watch list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_result_carries_no_reply_channel_but_a_direct_waiter_is_woken() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "ignored";
    let mut env = envelope(q, 1);
    env.result_ttl_ms = None;
    let id = env.id;
    b.publish(vec![env]).await.expect("publish");
    let stored = server
        .query(&["HGET", &format!("{}:env", b.queue_tag(q)), &id.to_string()])
        .expect("HGET");
    let redis::Value::BulkString(bytes) = stored else {
        panic!("the message is not stored: {stored:?}");
    };
    assert!(
        String::from_utf8_lossy(&bytes).starts_with("5||"),
        "an ignored result still names a reply channel: {}",
        String::from_utf8_lossy(&bytes)
    );
    let got = fetch(&b, q, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].envelope.reply_to.is_none());
    let waiter = b.wait_result(id, Some(Duration::from_secs(5)));
    let completer = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut done = success(&got[0], 4, Duration::from_secs(1));
        done.result_ttl = None;
        b.complete(&[done]).await.expect("complete")
    };
    let (waited, completed) = tokio::join!(waiter, completer);
    assert_eq!(completed, vec![true]);
    match waited.expect("wait") {
        Some(Outcome::Success(p)) => assert_eq!(p.decode::<u32>().expect("decode"), 4),
        other => panic!("the waiter was not woken with the outcome: {other:?}"),
    }
}
