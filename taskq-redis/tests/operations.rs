//! What operators use, on a private `redis-server`, beyond the conformance suite: larger
//! purges and dead-letter selections than one script call takes, a dead-lettered task's
//! record, pausing a live worker's queue, the worker registry with a worker that dies without
//! a goodbye, and the event log followed from another process, resumed and capped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use taskq::backend::{Backend, DeadSelection, ListState};
use taskq::events::{Event, EventCursor, EventKind, EventRead};
use taskq::{
    Client, DeadLetterReason, Envelope, FailureKind, Payload, TaskFailure, TaskId, TaskState,
    Timestamp, Worker,
};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

async fn backend(server: &RedisServer) -> RedisBackend {
    RedisBackend::connect(&server.url())
        .await
        .expect("connect to the private redis-server")
}

fn env(queue: &str, n: u32) -> Envelope {
    let mut e = Envelope::new("ops.task", queue, Payload::encode(&n).expect("encode"));
    e.max_attempts = 3;
    e
}

#[taskq::task(name = "ops.echo", queue = "ops-live")]
async fn echo(n: u32) -> u32 {
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_larger_than_one_script_call_resolves_every_waiting_task() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let mut envs = Vec::new();
    for n in 0..1_200u32 {
        let mut e = env("ops-purge", n);
        e.priority = (n % 10) as u8;
        envs.push(e);
    }
    for n in 0..600u32 {
        let mut e = env("ops-purge", n);
        e.eta = Some(Timestamp::now().after(Duration::from_secs(600)));
        if n % 2 == 0 {
            // Not kept: purged without a stored result.
            e.result_ttl_ms = None;
        }
        envs.push(e);
    }
    let kept = envs[0].id;
    let scheduled = envs[1_201].id;
    b.publish(envs).await.expect("publish");
    assert_eq!(b.purge_queue("ops-purge").await.expect("purge"), 1_800);
    let stats = b.queue_stats("ops-purge").await.expect("stats");
    assert_eq!((stats.ready, stats.delayed), (0, 0), "{stats:?}");
    for id in [kept, scheduled] {
        let record = b
            .record(id)
            .await
            .expect("record")
            .expect("a purged task's result");
        assert_eq!(record.state, TaskState::Cancelled);
    }
    // A waiter learns at once.
    let outcome = b
        .wait_result(kept, Some(Duration::from_secs(1)))
        .await
        .expect("wait")
        .expect("an outcome");
    assert!(matches!(outcome, taskq::Outcome::Failure(f) if f.kind == FailureKind::Cancelled));
    assert_eq!(b.purge_queue("ops-purge").await.expect("purge again"), 0);
    // The lease set is left alone (nothing was running) and the results are swept as usual:
    // one expiry entry per batch, in the expiry set.
    let tag = b.queue_tag("ops-purge");
    let card = |key: &str| match server.query(&["ZCARD", &format!("{tag}:{key}")]) {
        Ok(redis::Value::Int(n)) => n,
        other => panic!("ZCARD {key}: {other:?}"),
    };
    assert_eq!(card("lease"), 0);
    assert!(card("expiry") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_requeued_and_purged_by_reason_across_pages() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let q = "ops-dead";
    let envs: Vec<Envelope> = (0..2_500).map(|n| env(q, n)).collect();
    b.publish(envs).await.expect("publish");
    let mut exhausted = 0;
    loop {
        let ds = b
            .fetch(taskq::backend::FetchRequest {
                queues: &[q.to_owned()],
                max: 500,
                lease: Duration::from_secs(30),
                wait: Duration::ZERO,
            })
            .await
            .expect("fetch");
        if ds.is_empty() {
            break;
        }
        for d in ds {
            let n: u32 = d.envelope.args.decode().expect("args");
            // Interleaved reasons: two of every three exhausted.
            let reason = if n % 3 == 2 {
                DeadLetterReason::UnknownTask
            } else {
                exhausted += 1;
                DeadLetterReason::AttemptsExhausted
            };
            let failure = TaskFailure::new(FailureKind::Error, format!("boom {n}"));
            assert!(b
                .dead_letter(&d.lease, reason, &failure, None, None)
                .await
                .expect("dead letter"));
        }
    }
    let by_reason = DeadSelection::Reason(DeadLetterReason::AttemptsExhausted);
    // Oldest first, a limit per call, until fewer than the limit come back.
    let mut moved = 0;
    loop {
        let n = b.requeue_dead(q, &by_reason, 700).await.expect("requeue");
        moved += n;
        if n < 700 {
            break;
        }
    }
    assert_eq!(moved, exhausted);
    assert_eq!(b.queue_stats(q).await.expect("stats").ready, exhausted);
    let left = b.dead_letters(q, 10_000).await.expect("dead letters");
    assert_eq!(left.len(), 2_500 - exhausted);
    assert!(left
        .iter()
        .all(|d| d.reason == DeadLetterReason::UnknownTask));
    // Ids: only those.
    let two: Vec<TaskId> = left.iter().skip(100).take(2).map(|d| d.id).collect();
    assert_eq!(
        b.purge_dead(q, &DeadSelection::Ids(two.clone()), 10)
            .await
            .expect("purge ids"),
        2
    );
    let left = b.dead_letters(q, 10_000).await.expect("dead letters");
    assert!(left.iter().all(|d| !two.contains(&d.id)));
    assert_eq!(
        b.purge_dead(q, &DeadSelection::All, usize::MAX)
            .await
            .expect("purge all"),
        left.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_task_inspects_with_its_message_and_reason() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let mut e = env("ops-inspect", 7);
    e.parent_id = Some(TaskId::new());
    let (id, parent) = (e.id, e.parent_id);
    b.publish(vec![e]).await.expect("publish");
    let d = b
        .fetch(taskq::backend::FetchRequest {
            queues: &["ops-inspect".to_owned()],
            max: 1,
            lease: Duration::from_secs(30),
            wait: Duration::from_secs(1),
        })
        .await
        .expect("fetch")
        .pop()
        .expect("a delivery");
    let failure = TaskFailure::new(FailureKind::Error, "no more tries");
    b.dead_letter(
        &d.lease,
        DeadLetterReason::AttemptsExhausted,
        &failure,
        Some(Duration::from_secs(60)),
        None,
    )
    .await
    .expect("dead letter");
    let detail = b.inspect(id).await.expect("inspect").expect("known");
    assert_eq!(detail.state, TaskState::Failed);
    assert_eq!(
        detail.dead_reason,
        Some(DeadLetterReason::AttemptsExhausted)
    );
    assert_eq!(detail.queue.as_deref(), Some("ops-inspect"));
    assert_eq!(detail.task.as_deref(), Some("ops.task"));
    assert_eq!(detail.attempt, 1);
    assert!(detail.finished_at.is_some() && detail.created_at.is_some());
    let envelope = detail.envelope.expect("the message, from the dead letter");
    assert_eq!(envelope.parent_id, parent);
    assert_eq!(envelope.args.as_str(), "7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_worker_takes_nothing_from_a_paused_queue_and_resumes_at_once() {
    let server = RedisServer::start();
    let b = Arc::new(backend(&server).await);
    let client = Client::new(b.clone());
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["ops-live"])
        .spawn()
        .expect("worker");
    assert_eq!(
        echo::new(1)
            .delay_on(&client)
            .await
            .expect("send")
            .get()
            .await
            .expect("run"),
        1
    );
    b.pause_queue("ops-live").await.expect("pause");
    let handles: Vec<_> = {
        let mut hs = Vec::new();
        for n in 0..20 {
            hs.push(echo::new(n).delay_on(&client).await.expect("send"));
        }
        hs
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = b.queue_stats("ops-live").await.expect("stats");
    assert!(stats.paused);
    assert_eq!(stats.ready, 20, "a paused queue's tasks ran: {stats:?}");
    assert!(stats.oldest_ready.is_some_and(|t| t <= Timestamp::now()));
    let page = b
        .list_tasks("ops-live", ListState::Ready, None, 100)
        .await
        .expect("list");
    assert_eq!(page.items.len(), 20);
    let resumed = Instant::now();
    b.resume_queue("ops-live").await.expect("resume");
    for (n, h) in handles.into_iter().enumerate() {
        assert_eq!(h.get().await.expect("run after resume"), n as u32);
    }
    assert!(
        resumed.elapsed() < Duration::from_secs(2),
        "the worker took {:?} to notice the resume",
        resumed.elapsed()
    );
    worker.shutdown().await.expect("shutdown");
}

#[test]
fn a_worker_killed_without_a_goodbye_drops_out_within_three_heartbeats() {
    let server = RedisServer::start();
    let url = server.url();
    let every = Duration::from_millis(200);
    // The worker on a runtime of its own, dropped without a shutdown: as a SIGKILL leaves it.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let doomed_id = doomed.block_on(async {
        let client = Client::new(Arc::new(
            RedisBackend::connect(&url).await.expect("connect"),
        ));
        let worker = Worker::builder()
            .client(client.clone())
            .queues(["ops-hb"])
            .heartbeat_interval(every)
            .spawn()
            .expect("worker");
        tokio::time::sleep(every * 2).await;
        let workers = client.workers().await.expect("workers");
        assert_eq!(workers.len(), 1, "{workers:?}");
        // Never shut down, never dropped: it dies with its runtime.
        std::mem::forget(worker);
        workers[0].id.clone()
    });
    doomed.shutdown_background();
    let observer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    observer.block_on(async {
        let client = Client::new(Arc::new(
            RedisBackend::connect(&url).await.expect("connect"),
        ));
        let killed = Instant::now();
        loop {
            let workers = client.workers().await.expect("workers");
            if workers.iter().all(|w| w.id != doomed_id) {
                break;
            }
            assert!(
                killed.elapsed() < every * 3 + Duration::from_millis(200),
                "a dead worker is still listed after {:?}",
                killed.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A warm shutdown leaves at once.
        let worker = Worker::builder()
            .client(client.clone())
            .queues(["ops-hb"])
            .heartbeat_interval(Duration::from_secs(60))
            .spawn()
            .expect("worker");
        let deadline = Instant::now() + Duration::from_secs(2);
        while client.workers().await.expect("workers").is_empty() {
            assert!(Instant::now() < deadline, "the worker never registered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worker.shutdown().await.expect("shutdown");
        assert!(client.workers().await.expect("workers").is_empty());
    });
}

async fn read(
    b: &RedisBackend,
    q: &str,
    after: &EventCursor,
    wait: Duration,
) -> Vec<taskq::events::StoredEvent> {
    b.read_events(EventRead {
        queues: &[q.to_owned()],
        after,
        max: 1_000,
        wait,
    })
    .await
    .expect("read events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_in_another_process_is_woken_and_resumes_after_a_reconnect() {
    let server = RedisServer::start();
    let writer = backend(&server).await;
    let follower = backend(&server).await;
    let q = "ops-events";
    let cursor = follower
        .events_now(&[q.to_owned()])
        .await
        .expect("events now");
    let ids: Vec<TaskId> = (0..300).map(|_| TaskId::new()).collect();
    let waiting = read(&follower, q, &cursor, Duration::from_secs(5));
    let writing = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for id in &ids {
            writer.append_event(Event::new(EventKind::Enqueued, *id, "ops.task", q));
        }
    };
    let started = Instant::now();
    let (first, ()) = tokio::join!(waiting, writing);
    assert!(!first.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woken after {:?}",
        started.elapsed()
    );
    // The follower goes away after a part; a new one resumes from the cursor's text.
    let mut cursor = cursor;
    let part = &first[..first.len().min(10)];
    for e in part {
        cursor.advance(e);
    }
    let saved = cursor.to_string();
    drop(follower);
    let again = backend(&server).await;
    let mut cursor: EventCursor = saved.parse().expect("cursor");
    let mut rest = Vec::new();
    while rest.len() < ids.len() - part.len() {
        let got = read(&again, q, &cursor, Duration::from_secs(2)).await;
        assert!(
            !got.is_empty(),
            "events lost after {} of {}",
            rest.len(),
            ids.len()
        );
        for e in &got {
            cursor.advance(e);
        }
        rest.extend(got);
    }
    let seen: Vec<TaskId> = part.iter().chain(&rest).map(|e| e.event.id).collect();
    assert_eq!(seen, ids, "every event once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_stays_capped() {
    let server = RedisServer::start();
    let b = RedisBackend::builder(server.url())
        .event_log_entries(10)
        .connect()
        .await
        .expect("connect");
    let q = "ops-capped";
    for _ in 0..600 {
        b.append_event(Event::new(EventKind::Started, TaskId::new(), "ops.task", q));
        // One flush per event: an entry each.
        tokio::time::sleep(Duration::from_millis(7)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let len = match server
        .query(&["XLEN", &format!("{}:events", b.queue_tag(q))])
        .expect("xlen")
    {
        redis::Value::Int(n) => n,
        other => panic!("XLEN: {other:?}"),
    };
    // `MAXLEN ~` trims whole stream nodes (100 entries each by default).
    assert!(len <= 110 + 10, "{len} entries kept with a cap of 10");
    let cursor = EventCursor::default();
    let oldest = read(&b, q, &cursor, Duration::ZERO).await;
    assert!(!oldest.is_empty() && oldest.len() < 600);
}
