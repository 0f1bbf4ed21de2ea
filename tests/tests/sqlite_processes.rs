//! Several worker processes on one SQLite file (`sqlite_worker`): they drain it exactly once
//! between them, a task of a SIGKILLed worker is finished by another after its lease, a frozen
//! worker that wakes late cannot overwrite the newer result, and 1,000 tasks survive workers
//! killed at random moments (mid-transaction included) with one stored success each.

#[path = "../src/bin/sqlite_worker/tasks.rs"]
mod tasks;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use taskq::backend::{Backend, QueueStats};
use taskq::{AsyncResult, Client, Outcome};
use taskq_sqlite::testing::TempDb;
use taskq_sqlite::SqliteBackend;

struct WorkerProc {
    child: Child,
}

impl WorkerProc {
    fn spawn(url: &str, log: &Path, name: &str, lease_ms: u64, concurrency: usize) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_sqlite_worker"))
            .env("TASKQ_URL", url)
            .env("WORKER_NAME", name)
            .env("SQ_LEASE_MS", lease_ms.to_string())
            .env("SQ_RUN_LOG", log)
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

    /// SIGKILL: no warm shutdown, no hand-back, maybe mid-transaction; its leases must expire.
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

struct Setup {
    db: TempDb,
    log: PathBuf,
    backend: SqliteBackend,
    client: Client,
}

async fn setup() -> Setup {
    let db = TempDb::new().expect("a temporary directory");
    let backend = db.open().await.expect("open the file");
    let log = db.path().with_file_name("runs.log");
    Setup {
        client: Client::new(Arc::new(backend.clone())),
        backend,
        log,
        db,
    }
}

/// How many times each task number ran, from the run log.
fn runs(log: &Path) -> HashMap<u32, u32> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = HashMap::new();
    for line in text.lines() {
        let n: u32 = line
            .parse()
            .unwrap_or_else(|_| panic!("bad run-log line {line:?}"));
        *out.entry(n).or_default() += 1;
    }
    out
}

async fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn send(client: &Client, n: u32, sleep_ms: u64) -> AsyncResult<(u32, String)> {
    tasks::work::new(n, sleep_ms)
        .delay_on(client)
        .await
        .expect("send")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_processes_drain_one_file_exactly_once() {
    const TASKS: u32 = 2_000;
    let s = setup().await;
    let url = s.db.url();
    let mut handles = Vec::new();
    for n in 0..TASKS {
        handles.push(send(&s.client, n, 1).await);
    }
    let _workers: Vec<WorkerProc> = ["a", "b", "c"]
        .iter()
        .map(|name| WorkerProc::spawn(&url, &s.log, name, 5_000, 8))
        .collect();
    let mut by_worker: HashMap<String, u32> = HashMap::new();
    for (n, h) in handles.into_iter().enumerate() {
        let (doubled, who) = h
            .get_timeout(Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("task {n}: {e}"));
        assert_eq!(doubled, u32::try_from(n).unwrap() * 2);
        *by_worker.entry(who).or_default() += 1;
    }
    assert!(
        by_worker.len() >= 2,
        "the work was shared between processes: {by_worker:?}"
    );
    let runs = runs(&s.log);
    assert_eq!(runs.len(), TASKS as usize, "every task ran");
    let twice: Vec<_> = runs.iter().filter(|(_, c)| **c != 1).collect();
    assert!(
        twice.is_empty(),
        "tasks run more than once without a crash: {twice:?}"
    );
    let stats = s.backend.queue_stats(tasks::QUEUE).await.expect("stats");
    assert_eq!(stats, QueueStats::default(), "nothing left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_of_a_worker_killed_mid_run_is_finished_by_another_after_its_lease() {
    let s = setup().await;
    let url = s.db.url();
    let mut a = WorkerProc::spawn(&url, &s.log, "a", 1_000, 4);
    let handle = send(&s.client, 7, 1_500).await;
    wait_for(
        "worker a to start the task",
        Duration::from_secs(15),
        || runs(&s.log).get(&7) == Some(&1),
    )
    .await;
    a.kill();
    let killed_at = Instant::now();
    let _b = WorkerProc::spawn(&url, &s.log, "b", 1_000, 4);
    let (doubled, who) = handle
        .get_timeout(Duration::from_secs(20))
        .await
        .expect("worker b finishes the task");
    assert_eq!((doubled, who.as_str()), (14, "b"));
    assert_eq!(runs(&s.log).get(&7), Some(&2), "ran once on a, once on b");
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
    let s = setup().await;
    let url = s.db.url();
    let a = WorkerProc::spawn(&url, &s.log, "a", 600, 4);
    let handle = send(&s.client, 3, 1_200).await;
    wait_for(
        "worker a to start the task",
        Duration::from_secs(15),
        || runs(&s.log).get(&3) == Some(&1),
    )
    .await;
    // Frozen, a stops extending; its lease expires and b takes the task over.
    a.signal("STOP");
    let _b = WorkerProc::spawn(&url, &s.log, "b", 600, 4);
    let (_, who) = handle
        .get_timeout(Duration::from_secs(20))
        .await
        .expect("worker b finishes the task");
    assert_eq!(who, "b");
    a.signal("CONT");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let record = s
        .backend
        .record(handle.id())
        .await
        .expect("record")
        .expect("a stored result");
    match record.outcome {
        Some(Outcome::Success(p)) => {
            let (_, name) = p.decode::<(u32, String)>().expect("the result");
            assert_eq!(name, "b", "the stale worker overwrote the result");
        }
        other => panic!("expected b's success, got {other:?}"),
    }
    let stats = s.backend.queue_stats(tasks::QUEUE).await.expect("stats");
    assert_eq!(stats, QueueStats::default(), "nothing left behind");
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
async fn a_thousand_tasks_survive_workers_killed_at_random() {
    const TASKS: u32 = 1_000;
    let s = setup().await;
    let url = s.db.url();
    let mut rng = Lcg(0x5eed);
    let mut handles = Vec::new();
    for n in 0..TASKS {
        handles.push(send(&s.client, n, rng.below(20)).await);
    }
    let mut workers: Vec<WorkerProc> = (0..2)
        .map(|i| WorkerProc::spawn(&url, &s.log, &format!("w{i}"), 800, 16))
        .collect();
    let mut kills = 0;
    let started = Instant::now();
    // Kill one of the two at a random moment every 150-650 ms, restart it, until most of the
    // work is done (at least 8 kills).
    while kills < 8 || runs(&s.log).len() < (TASKS as usize) * 3 / 4 {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the kills never let it finish"
        );
        tokio::time::sleep(Duration::from_millis(150 + rng.below(500))).await;
        let i = usize::try_from(rng.below(2)).unwrap();
        workers[i].kill();
        kills += 1;
        workers[i] = WorkerProc::spawn(&url, &s.log, &format!("w{i}-{kills}"), 800, 16);
    }
    let mut ids = HashSet::new();
    for (n, h) in handles.into_iter().enumerate() {
        ids.insert(h.id());
        let (doubled, _) = h
            .get_timeout(Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("task {n} after {kills} kills: {e}"));
        assert_eq!(doubled, u32::try_from(n).unwrap() * 2);
    }
    assert_eq!(ids.len(), TASKS as usize);
    let runs = runs(&s.log);
    assert_eq!(runs.len(), TASKS as usize, "every task ran at least once");
    let stats = s.backend.queue_stats(tasks::QUEUE).await.expect("stats");
    assert_eq!(
        stats,
        QueueStats::default(),
        "nothing left queued, leased or dead"
    );
    let dead = s
        .backend
        .dead_letters(tasks::QUEUE, 10)
        .await
        .expect("dead letters");
    assert!(dead.is_empty(), "{dead:?}");
}
