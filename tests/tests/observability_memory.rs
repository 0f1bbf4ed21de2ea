//! What operators see of a worker on the in-memory backend: its heartbeat, the backend's event
//! log of its runs, pausing a queue under it, listing and inspecting its tasks.

use std::time::Duration;

use taskq::backend::ListState;
use taskq::events::{EventCursor, EventKind, EventRead, StoredEvent};
use taskq::{Client, TaskState, Worker};

#[taskq::task(queue = "obs")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[taskq::task(queue = "obs-fail", retries = 1, backoff = "10ms")]
async fn always_fails(n: u32) -> Result<u32, String> {
    Err(format!("no {n}"))
}

#[taskq::task(queue = "obs-slow")]
async fn nap(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[taskq::task(queue = "obs-pause")]
async fn touch(n: u32) -> u32 {
    n
}

async fn read_all(client: &Client, queue: &str, want: usize) -> Vec<StoredEvent> {
    let queues = [queue.to_owned()];
    let mut cursor = EventCursor::default();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.len() < want && tokio::time::Instant::now() < deadline {
        let got = client
            .backend()
            .read_events(EventRead {
                queues: &queues,
                after: &cursor,
                max: 1000,
                wait: Duration::from_millis(200),
            })
            .await
            .expect("read events");
        for e in &got {
            cursor.advance(e);
        }
        out.extend(got);
    }
    out
}

#[tokio::test]
async fn the_event_log_tells_each_run_in_order() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["obs", "obs-fail"])
        .spawn()
        .unwrap();
    let handles = client
        .send_many((0..20).map(|n| add::new(n, 1)))
        .await
        .unwrap();
    for h in handles {
        h.get().await.unwrap();
    }
    let failing = always_fails::new(7).delay_on(&client).await.unwrap();
    assert!(failing.get().await.is_err());

    let events = read_all(&client, "obs", 60).await;
    assert_eq!(events.len(), 60, "3 events for each of 20 tasks");
    let mut by_task: std::collections::HashMap<_, Vec<_>> = Default::default();
    for e in &events {
        by_task.entry(e.event.id).or_default().push(&e.event);
    }
    assert_eq!(by_task.len(), 20);
    for (id, evs) in &by_task {
        let kinds: Vec<_> = evs.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Enqueued,
                EventKind::Started,
                EventKind::Succeeded
            ],
            "task {id}"
        );
        assert!(evs
            .iter()
            .all(|e| e.task.ends_with("add") && e.queue == "obs"));
        assert!(evs[1].worker.is_some() && evs[1].wait_ms.is_some());
        assert_eq!(evs[2].worker, evs[1].worker);
        assert!(evs[2].runtime_ms.is_some());
    }

    let failed = read_all(&client, "obs-fail", 6).await;
    let kinds: Vec<_> = failed.iter().map(|e| e.event.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Enqueued,
            EventKind::Started,
            EventKind::Retried,
            EventKind::Started,
            EventKind::Failed,
            EventKind::DeadLettered,
        ]
    );
    assert_eq!(failed[2].event.failure, Some(taskq::FailureKind::Error));
    assert_eq!(failed[2].event.detail.as_deref(), Some("no 7"));
    assert_eq!(failed[4].event.attempt, 2);
    assert_eq!(
        failed[5].event.reason,
        Some(taskq::DeadLetterReason::AttemptsExhausted)
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_worker_announces_itself_and_what_it_runs() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["obs-slow"])
        .concurrency(3)
        .prefetch(1)
        .heartbeat_interval(Duration::from_millis(50))
        .spawn()
        .unwrap();
    let h = nap::new(600).delay_on(&client).await.unwrap();
    let mut seen = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let live = client.workers().await.unwrap();
        if let Some(w) = live.iter().find(|w| !w.running.is_empty()) {
            seen = Some(w.clone());
            break;
        }
    }
    let w = seen.expect("the worker's heartbeat never showed its running task");
    assert_eq!(w.queues, ["obs-slow"]);
    assert_eq!((w.concurrency, w.prefetch), (3, 1));
    assert_eq!(w.pid, std::process::id());
    assert_eq!(w.backend, "memory");
    assert_eq!(w.running[0].id, h.id());
    assert!(w.running[0].task.ends_with("nap"));
    assert!(w.id.contains(&std::process::id().to_string()));

    // The running task is listed as leased, by this worker; inspect says the same.
    let leased = client
        .backend()
        .list_tasks("obs-slow", ListState::Leased, None, 10)
        .await
        .unwrap();
    assert_eq!(leased.items.len(), 1);
    assert_eq!(leased.items[0].worker.as_deref(), Some(w.id.as_str()));
    let detail = client.inspect(h.id()).await.unwrap().unwrap();
    assert_eq!(detail.state, TaskState::Running);
    assert_eq!(detail.worker.as_deref(), Some(w.id.as_str()));

    assert_eq!(h.get().await.unwrap(), 600);
    let done = client.inspect(h.id()).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Succeeded);
    let (started, finished) = (done.started_at.unwrap(), done.finished_at.unwrap());
    assert!(
        finished.0 - started.0 >= 550,
        "started {started:?}, finished {finished:?}"
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    let w = &client.workers().await.unwrap()[0];
    assert_eq!((w.processed, w.failed), (1, 0));
    assert!(w.running.is_empty());

    worker.shutdown().await.unwrap();
    assert!(
        client.workers().await.unwrap().is_empty(),
        "a warm shutdown removes the worker at once"
    );
}

#[tokio::test]
async fn a_paused_queue_keeps_its_tasks_until_resumed() {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["obs-pause"])
        .fetch_wait(Duration::from_secs(30))
        .spawn()
        .unwrap();
    // The worker is asleep in a fetch when the queue is paused.
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.backend().pause_queue("obs-pause").await.unwrap();
    let h = touch::new(5).delay_on(&client).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.state().await.unwrap(), TaskState::Pending);
    let stats = client.backend().queue_stats("obs-pause").await.unwrap();
    assert!(stats.paused && stats.ready == 1, "{stats:?}");

    client.backend().resume_queue("obs-pause").await.unwrap();
    let five = tokio::time::timeout(Duration::from_secs(2), h.get())
        .await
        .expect("a resumed queue's task did not run within 2 s")
        .unwrap();
    assert_eq!(five, 5);
    worker.shutdown().await.unwrap();
}
