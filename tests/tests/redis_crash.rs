//! Crash tests of the Redis backend with real worker processes (`redis_crash_worker`) and a
//! private `redis-server`: SIGKILL mid-task, random kills under load, a stale worker that wakes
//! up late, and Redis itself restarted mid-run.

#[path = "../src/bin/redis_crash_worker/tasks.rs"]
mod tasks;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskq::backend::Backend;
use taskq::{Client, Outcome};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

struct WorkerProc {
    child: Child,
}

impl WorkerProc {
    fn spawn(url: &str, name: &str, lease_ms: u64, concurrency: usize) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_redis_crash_worker"))
            .env("TASKQ_URL", url)
            .env("WORKER_NAME", name)
            .env("CRASH_LEASE_MS", lease_ms.to_string())
            .env("TASKQ_CONCURRENCY", concurrency.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the worker process");
        Self { child }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// SIGKILL: no warm shutdown, no hand-back; its leases must expire.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn client(server: &RedisServer) -> (Client, RedisBackend) {
    let backend = RedisBackend::connect(&server.url())
        .await
        .expect("connect to the private redis-server");
    (Client::new(Arc::new(backend.clone())), backend)
}

fn counter(server: &RedisServer, key: &str) -> i64 {
    match server.query(&["GET", key]) {
        Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).parse().unwrap_or(0),
        _ => 0,
    }
}

async fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A small deterministic generator for the kill schedule.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_of_a_worker_killed_mid_run_is_finished_by_another_worker() {
    let server = RedisServer::start();
    let url = server.url();
    let (client, _) = client(&server).await;
    let mut a = WorkerProc::spawn(&url, "a", 1_000, 4);
    let handle = tasks::slow::new("k".into(), 1_500)
        .delay_on(&client)
        .await
        .expect("send");
    wait_for(
        "worker a to start the task",
        Duration::from_secs(15),
        || counter(&server, "crash:started:k") >= 1,
    )
    .await;
    a.kill();
    let killed_at = Instant::now();
    let _b = WorkerProc::spawn(&url, "b", 1_000, 4);
    let who = handle
        .get_timeout(Duration::from_secs(20))
        .await
        .expect("worker b finishes the task");
    assert_eq!(who, "b");
    assert_eq!(
        counter(&server, "crash:started:k"),
        2,
        "ran once on a, once on b"
    );
    // The lease (1 s) had to expire first, then 1.5 s of work.
    let took = killed_at.elapsed();
    assert!(
        took >= Duration::from_millis(1_500),
        "finished {took:?} after the kill"
    );
    assert!(
        took < Duration::from_secs(8),
        "finished only {took:?} after the kill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_worker_that_wakes_up_late_cannot_overwrite_the_result() {
    let server = RedisServer::start();
    let url = server.url();
    let (client, backend) = client(&server).await;
    let a = WorkerProc::spawn(&url, "a", 600, 4);
    let handle = tasks::slow::new("s".into(), 1_200)
        .delay_on(&client)
        .await
        .expect("send");
    wait_for(
        "worker a to start the task",
        Duration::from_secs(15),
        || counter(&server, "crash:started:s") >= 1,
    )
    .await;
    // Freeze a: it stops extending, its lease expires, b takes the task over and finishes it.
    a.signal("STOP");
    let _b = WorkerProc::spawn(&url, "b", 600, 4);
    let who = handle
        .get_timeout(Duration::from_secs(20))
        .await
        .expect("worker b finishes the task");
    assert_eq!(who, "b");
    // Thaw a: its task finishes or its extension says the lease is lost; either way it must
    // write nothing.
    a.signal("CONT");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let record = backend
        .record(handle.id())
        .await
        .expect("record")
        .expect("a stored result");
    match record.outcome {
        Some(Outcome::Success(p)) => {
            assert_eq!(
                p.decode::<String>().expect("a name"),
                "b",
                "the stale worker overwrote the result"
            )
        }
        other => panic!("expected b's success, got {other:?}"),
    }
    assert_eq!(counter(&server, "crash:started:s"), 2);
    let stats = backend.queue_stats(tasks::QUEUE).await.expect("stats");
    assert_eq!(
        stats,
        taskq::backend::QueueStats::default(),
        "nothing left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_survive_workers_killed_at_random() {
    const TASKS: u32 = 1_000;
    let server = RedisServer::start();
    let url = server.url();
    let (client, backend) = client(&server).await;

    // Every accepted completion announces itself once on the producer's reply channel: count
    // the announcements per task to prove exactly one stored success each.
    let announced: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let mut pubsub = redis::Client::open(url.as_str())
        .expect("client")
        .get_async_pubsub()
        .await
        .expect("pubsub");
    pubsub
        .subscribe(backend.reply_channel())
        .await
        .expect("subscribe");
    let counting = {
        let announced = announced.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut stream = pubsub.into_on_message();
            while let Some(msg) = stream.next().await {
                let notes: Vec<serde_json::Value> =
                    serde_json::from_slice(msg.get_payload_bytes()).expect("a JSON array");
                let mut map = announced.lock().expect("lock");
                for n in notes {
                    let id = n["id"].as_str().expect("an id").to_owned();
                    *map.entry(id).or_default() += 1;
                }
            }
        })
    };

    let mut rng = Lcg(0x5eed);
    let calls: Vec<_> = (0..TASKS)
        .map(|n| tasks::work::new(n, 30 + rng.below(60)))
        .collect();
    let handles = client.send_many(calls).await.expect("send 1000 tasks");
    let ids: Vec<String> = handles.iter().map(|h| h.id().to_string()).collect();

    let mut workers: Vec<WorkerProc> = (0..3)
        .map(|i| WorkerProc::spawn(&url, &format!("w{i}"), 700, 8))
        .collect();
    let waiting = tokio::spawn(async move {
        let mut results = Vec::with_capacity(handles.len());
        for h in handles {
            results.push(h.get_timeout(Duration::from_secs(90)).await);
        }
        results
    });
    let mut kills = 0;
    let mut spawned = 3;
    while !waiting.is_finished() && kills < 12 {
        tokio::time::sleep(Duration::from_millis(150 + rng.below(250))).await;
        let victim = usize::try_from(rng.below(workers.len() as u64)).unwrap_or(0);
        workers[victim].kill();
        kills += 1;
        workers[victim] = WorkerProc::spawn(&url, &format!("w{spawned}"), 700, 8);
        spawned += 1;
    }
    let results = waiting.await.expect("the waiter task");
    for (n, r) in results.into_iter().enumerate() {
        let (value, worker) = r.unwrap_or_else(|e| panic!("task {n}: {e}"));
        assert_eq!(value, 2 * n as u32, "task {n} has another task's result");
        assert!(worker.starts_with('w'), "task {n} ran on `{worker}`");
    }
    // Every body ran at least once; some ran again after their worker was killed.
    let mut runs = 0;
    for n in 0..TASKS {
        let c = counter(&server, &format!("crash:runs:{n}"));
        assert!(c >= 1, "task {n} never ran");
        runs += c;
    }
    // Announcements arrive asynchronously; give the last ones a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let announced = announced.lock().expect("lock").clone();
    counting.abort();
    for id in &ids {
        assert_eq!(
            announced.get(id).copied().unwrap_or(0),
            1,
            "task {id}: accepted completions"
        );
    }
    let stats = backend.queue_stats(tasks::QUEUE).await.expect("stats");
    assert_eq!(
        stats,
        taskq::backend::QueueStats::default(),
        "nothing left behind"
    );
    eprintln!(
        "{kills} workers killed; {runs} runs for {TASKS} tasks ({} re-runs)",
        runs - i64::from(TASKS)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_waiters_carry_on_through_a_redis_restart() {
    const TASKS: u32 = 300;
    let mut server = RedisServer::start_persistent();
    let url = server.url();
    let (client, backend) = client(&server).await;
    let _workers: Vec<WorkerProc> = (0..2)
        .map(|i| WorkerProc::spawn(&url, &format!("w{i}"), 2_000, 8))
        .collect();
    let calls: Vec<_> = (0..TASKS).map(|n| tasks::work::new(n, 20)).collect();
    let handles = client.send_many(calls).await.expect("send");
    let waiting = tokio::spawn(async move {
        let mut results = Vec::with_capacity(handles.len());
        for h in handles {
            results.push(h.get_timeout(Duration::from_secs(90)).await);
        }
        results
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.restart();
    let results = waiting.await.expect("the waiter task");
    for (n, r) in results.into_iter().enumerate() {
        let (value, _) = r.unwrap_or_else(|e| panic!("task {n}: {e}"));
        assert_eq!(value, 2 * n as u32);
    }
    let stats = backend.queue_stats(tasks::QUEUE).await.expect("stats");
    assert_eq!(
        stats,
        taskq::backend::QueueStats::default(),
        "nothing left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_chord_still_yields_exactly_one_callback() {
    use taskq::canvas::{chord, group};

    let server = RedisServer::start();
    let url = server.url();
    let (client, _) = client(&server).await;
    let mut a = WorkerProc::spawn(&url, "a", 600, 8);
    let _b = WorkerProc::spawn(&url, "b", 600, 8);
    let members = (1..=60u64)
        .map(|n| tasks::chord_member::new(n, 150))
        .collect::<Vec<_>>();
    let handle = chord(group(members), tasks::chord_sum::partial("kill".into()))
        .delay_on(&client)
        .await
        .unwrap();
    // Kill worker `a` once members are running (some finished, some mid-run).
    wait_for("members to start", Duration::from_secs(20), || {
        (1..=60u64)
            .filter(|n| counter(&server, &format!("crash:chord_member_runs:{n}")) > 0)
            .count()
            >= 20
    })
    .await;
    a.kill();
    let _c = WorkerProc::spawn(&url, "c", 600, 8);
    let sum = handle.get_timeout(Duration::from_secs(60)).await.unwrap();
    assert_eq!(sum, (1..=60u64).sum::<u64>());
    // Let any straggler (a member re-run after the kill) finish, then count the callbacks.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let reruns: i64 = (1..=60u64)
        .map(|n| counter(&server, &format!("crash:chord_member_runs:{n}")) - 1)
        .sum();
    assert_eq!(
        counter(&server, "crash:chord_callbacks:kill"),
        1,
        "the callback ran exactly once ({reruns} member re-runs)"
    );
}
