//! The Redis backend under a real worker (in this process) and a private `redis-server`: poison
//! messages, revocation, delays with an idle worker, priorities, waiters in other processes,
//! connection errors, the URL factory and key prefixes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskq::backend::{Backend, CancelOutcome};
use taskq::{
    Client, Context, DeadLetterReason, Envelope, Error, FailureKind, Payload, TaskId, TaskState,
    Worker,
};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

async fn backend(server: &RedisServer) -> RedisBackend {
    RedisBackend::connect(&server.url())
        .await
        .expect("connect to the private redis-server")
}

fn worker(client: &Client, queue: &str) -> taskq::WorkerHandle {
    Worker::builder()
        .client(client.clone())
        .queues([queue])
        .lease_duration(Duration::from_millis(600))
        .grace_period(Duration::from_secs(1))
        .spawn()
        .expect("spawn a worker")
}

fn failure_of<T: std::fmt::Debug>(result: Result<T, Error>) -> taskq::TaskFailure {
    match result {
        Err(Error::TaskFailed { failure, .. }) => failure,
        other => panic!("expected a task failure, got {other:?}"),
    }
}

#[taskq::task(name = "redis.double", queue = "bad")]
async fn double(x: u32) -> u32 {
    x * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_undecodable_and_unknown_messages_are_dead_lettered_and_the_worker_keeps_serving() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let client = Client::new(Arc::new(b.clone()));
    let tag = b.queue_tag("bad");

    // Garbage straight into a ready list, and into the delayed set.
    server
        .query(&["RPUSH", &format!("{tag}:r5"), "complete garbage"])
        .expect("rpush");
    server
        .query(&["ZADD", &format!("{tag}:delayed"), "0", "more garbage"])
        .expect("zadd");
    // A stored message whose header is fine but whose envelope is not JSON.
    let broken = TaskId::new().to_string();
    server
        .query(&[
            "HSET",
            &format!("{tag}:env"),
            &broken,
            "5||{\"id\": not json",
        ])
        .expect("hset");
    server
        .query(&["RPUSH", &format!("{tag}:r5"), &broken])
        .expect("rpush");
    // A stored message without a header at all.
    let headless = TaskId::new().to_string();
    server
        .query(&[
            "HSET",
            &format!("{tag}:env"),
            &headless,
            "not even a header",
        ])
        .expect("hset");
    server
        .query(&["RPUSH", &format!("{tag}:r5"), &headless])
        .expect("rpush");
    // A well-formed message for a task nobody registered, and one whose arguments do not fit.
    let unknown = Envelope::new("nobody.knows.me", "bad", Payload::null());
    let mut wrong_args = Envelope::new(
        "redis.double",
        "bad",
        Payload::encode(&"not a number").expect("json"),
    );
    wrong_args.max_attempts = 1;
    let (unknown_id, wrong_id) = (unknown.id, wrong_args.id);
    b.publish(vec![unknown, wrong_args]).await.expect("publish");

    let w = worker(&client, "bad");
    // The worker keeps serving: a good task after all that runs.
    let good = double::new(21).delay_on(&client).await.expect("send");
    assert_eq!(
        good.get_timeout(Duration::from_secs(10))
            .await
            .expect("result"),
        42
    );

    let failure = failure_of(
        client
            .result::<u32>(unknown_id)
            .get_timeout(Duration::from_secs(5))
            .await,
    );
    assert_eq!(failure.kind, FailureKind::Rejected);
    let failure = failure_of(
        client
            .result::<u32>(wrong_id)
            .get_timeout(Duration::from_secs(5))
            .await,
    );
    assert_eq!(failure.kind, FailureKind::Rejected);
    // The undecodable envelope's waiters learn of it too.
    let broken_id: TaskId = broken.parse().expect("uuid");
    let failure = failure_of(
        client
            .result::<u32>(broken_id)
            .get_timeout(Duration::from_secs(5))
            .await,
    );
    assert!(
        failure.message.contains("not a taskq envelope"),
        "{failure:?}"
    );

    let dead = b.dead_letters("bad", 100).await.expect("dead letters");
    let reasons = |r: DeadLetterReason| dead.iter().filter(|d| d.reason == r).count();
    assert_eq!(reasons(DeadLetterReason::UnknownTask), 1, "{dead:#?}");
    assert_eq!(
        reasons(DeadLetterReason::UndecodableArguments),
        1,
        "{dead:#?}"
    );
    assert_eq!(reasons(DeadLetterReason::MalformedMessage), 4, "{dead:#?}");
    let raws: Vec<&str> = dead.iter().filter_map(|d| d.raw.as_deref()).collect();
    assert!(raws.contains(&"complete garbage"), "{raws:?}");
    assert!(raws.contains(&"more garbage"), "{raws:?}");
    assert!(raws.contains(&"not even a header"), "{raws:?}");
    assert!(raws.iter().any(|r| r.contains("not json")), "{raws:?}");
    assert!(
        dead.iter().any(|d| d.id == broken_id),
        "the broken message keeps its id"
    );
    let unknown_letter = dead
        .iter()
        .find(|d| d.id == unknown_id)
        .expect("the unknown task's dead letter");
    assert!(unknown_letter.message.contains("nobody.knows.me"));
    assert_eq!(unknown_letter.envelope.as_ref().map(|e| e.attempt), Some(1));
    // Malformed messages cannot be requeued and stay; the others go back.
    assert_eq!(
        b.requeue_dead("bad", &taskq::backend::DeadSelection::All, usize::MAX)
            .await
            .expect("requeue"),
        2
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = b.queue_stats("bad").await.expect("stats");
    assert_eq!(
        stats.ready + stats.running,
        0,
        "requeued poison went to the worker: {stats:?}"
    );
    let report = w.shutdown().await.expect("shutdown");
    assert!(report.rejected >= 4, "{report:?}");
}

#[taskq::task(name = "redis.sleepy", queue = "revoke")]
async fn sleepy(ctx: Context, ms: u64) -> String {
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(ms)) => "finished".to_owned(),
        () = ctx.cancelled() => "noticed".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_delayed_and_running_tasks_can_be_revoked() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let client = Client::new(Arc::new(b.clone()));
    let queued = sleepy::new(10).delay_on(&client).await.expect("send");
    let delayed = sleepy::new(10)
        .countdown(Duration::from_millis(500))
        .delay_on(&client)
        .await
        .expect("send");
    assert_eq!(queued.state().await.expect("state"), TaskState::Pending);
    assert_eq!(delayed.state().await.expect("state"), TaskState::Scheduled);
    assert_eq!(
        queued.revoke().await.expect("revoke"),
        CancelOutcome::Removed
    );
    assert_eq!(
        delayed.revoke().await.expect("revoke"),
        CancelOutcome::Removed
    );

    let w = worker(&client, "revoke");
    let running = sleepy::new(30_000).delay_on(&client).await.expect("send");
    let started = Instant::now();
    while running.state().await.expect("state") != TaskState::Running {
        assert!(started.elapsed() < Duration::from_secs(5), "never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        running.revoke().await.expect("revoke"),
        CancelOutcome::Signalled
    );
    let revoked_at = Instant::now();
    let failure = failure_of(running.get_timeout(Duration::from_secs(5)).await);
    assert_eq!(failure.kind, FailureKind::Cancelled);
    // Told at the next extension: a third of the 600 ms lease.
    assert!(
        revoked_at.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        revoked_at.elapsed()
    );
    for h in [&queued, &delayed] {
        assert_eq!(failure_of(h.get().await).kind, FailureKind::Cancelled);
        assert_eq!(h.state().await.expect("state"), TaskState::Cancelled);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let report = w.shutdown().await.expect("shutdown");
    assert_eq!(report.succeeded, 0, "a revoked task ran: {report:?}");
    assert_eq!(
        b.queue_stats("revoke").await.expect("stats"),
        Default::default()
    );
}

static ORDER: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[taskq::task(name = "redis.record", queue = "prio")]
async fn record_order(n: u32) {
    ORDER.lock().expect("lock").push(n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_runs_delayed_tasks_on_time_and_priorities_in_order() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    let client = Client::new(Arc::new(b.clone()));
    for (n, p) in [(1, 0u8), (2, 9), (3, 5), (4, 9), (5, 0)] {
        record_order::new(n)
            .priority(p)
            .delay_on(&client)
            .await
            .expect("send");
    }
    let w = Worker::builder()
        .client(client.clone())
        .queues(["prio"])
        .concurrency(1)
        .prefetch(0)
        // Longer than the countdown: only the due time can wake the idle worker in time.
        .fetch_wait(Duration::from_secs(30))
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(5);
    while ORDER.lock().expect("lock").len() < 5 {
        assert!(Instant::now() < deadline, "not all ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*ORDER.lock().expect("lock"), vec![2, 4, 3, 1, 5]);
    // The worker is idle, blocked; a countdown must wake it when due, not at its fetch_wait.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = Instant::now();
    let h = record_order::new(6)
        .countdown(Duration::from_millis(700))
        .delay_on(&client)
        .await
        .expect("send");
    h.get_timeout(Duration::from_secs(5)).await.expect("result");
    let took = sent.elapsed();
    assert!(took >= Duration::from_millis(650), "ran early: {took:?}");
    assert!(took < Duration::from_millis(1_200), "ran late: {took:?}");
    w.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_in_another_process_is_woken_without_polling() {
    let server = RedisServer::start();
    let producer = backend(&server).await;
    let elsewhere = backend(&server).await;
    let env = double::new(4).into_envelope().expect("envelope");
    let id = env.id;
    producer.publish(vec![env]).await.expect("publish");
    // `elsewhere` did not send the task: it must register as a watcher to be told.
    let waiter = tokio::spawn({
        let elsewhere = elsewhere.clone();
        async move {
            elsewhere
                .wait_result(id, Some(Duration::from_secs(5)))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = Client::new(Arc::new(producer.clone()));
    let w = worker(&client, "bad");
    let started = Instant::now();
    let got = waiter.await.expect("join").expect("wait");
    assert!(matches!(got, Some(taskq::Outcome::Success(_))), "{got:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // An id nobody sent: a bounded wait ends empty, and cleans up its registrations.
    let none = elsewhere
        .wait_result(TaskId::new(), Some(Duration::from_millis(200)))
        .await
        .expect("wait");
    assert!(none.is_none());
    w.shutdown().await.expect("shutdown");
    let leftovers = server
        .query(&["HLEN", &format!("{}:watch", producer.queue_tag("bad"))])
        .expect("hlen");
    assert_eq!(leftovers, redis::Value::Int(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_selects_redis_and_a_missing_server_is_a_clear_error() {
    let server = RedisServer::start();
    assert!(taskq_redis::register());
    let backend = taskq::backend::connect(&server.url())
        .await
        .expect("redis:// via the factory");
    assert_eq!(backend.name(), "redis");

    // Nothing listens on the port of a server that is gone.
    let gone = RedisServer::start();
    let port = gone.port();
    drop(gone);
    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let Err(err) = taskq::backend::connect(&url).await else {
        panic!("connected to a server that is gone");
    };
    let text = err.to_string();
    assert!(
        text.contains(&format!("redis://:***@127.0.0.1:{port}/0")),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
    assert!(
        matches!(err, Error::Backend(taskq::BackendError::Unavailable { .. })),
        "{err:?}"
    );

    let bad = taskq::backend::connect("redis://127.0.0.1:notaport/0").await;
    assert!(bad.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_prefixes_share_one_server_without_seeing_each_other() {
    let server = RedisServer::start();
    let a = RedisBackend::builder(server.url())
        .prefix("app-a")
        .connect()
        .await
        .expect("a");
    let b = RedisBackend::connect(&format!("{}?prefix=app-b", server.url()))
        .await
        .expect("b");
    assert_eq!(b.prefix(), "app-b");
    a.publish(vec![Envelope::new("t", "shared", Payload::null())])
        .await
        .expect("publish");
    let queues = ["shared".to_owned()];
    let req = taskq::backend::FetchRequest {
        queues: &queues,
        max: 10,
        lease: Duration::from_secs(5),
        wait: Duration::ZERO,
    };
    assert!(b.fetch(req).await.expect("fetch").is_empty());
    assert_eq!(a.fetch(req).await.expect("fetch").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_dropped_mid_flight_hands_its_tasks_back() {
    let server = RedisServer::start();
    let b = backend(&server).await;
    b.publish(
        (0..50)
            .map(|_| Envelope::new("t", "drop", Payload::null()))
            .collect(),
    )
    .await
    .expect("publish");
    let queues = ["drop".to_owned()];
    let req = taskq::backend::FetchRequest {
        queues: &queues,
        max: 50,
        lease: Duration::from_secs(60),
        wait: Duration::ZERO,
    };
    // Dropped almost at once: whatever the script leased meanwhile must come back. A fetch
    // that did finish in time hands its deliveries to us: give those back as a worker would.
    for _ in 0..20 {
        if let Ok(Ok(got)) = tokio::time::timeout(Duration::from_micros(50), b.fetch(req)).await {
            b.release(got.into_iter().map(|d| d.lease).collect())
                .await
                .expect("release");
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = b.queue_stats("drop").await.expect("stats");
    assert_eq!(stats.running, 0, "{stats:?}");
    let all = b.fetch(req).await.expect("fetch");
    assert_eq!(all.len(), 50);
    assert!(
        all.iter().all(|d| d.envelope.attempt == 1),
        "a released fetch counted an attempt"
    );
}
