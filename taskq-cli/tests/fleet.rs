//! A fleet on a private Redis: two worker processes, a `taskq events --follow` process, and a
//! producer (this test). Every event of 1,000 tasks reaches the follower exactly once and in
//! order per task; a SIGKILLed worker leaves `taskq workers` within three heartbeats; a warm
//! shutdown leaves it at once.
//!
//! The worker processes are this test binary run again with `--ignored --exact
//! fleet_worker_process`, so the test needs no binary of its own beside `taskq`.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use taskq_redis::testing::RedisServer;

const WORKER_URL_ENV: &str = "TASKQ_FLEET_WORKER_URL";
const HEARTBEAT: Duration = Duration::from_millis(500);
const TASKS: u32 = 1_000;

#[taskq::task(queue = "fleet")]
async fn double(n: u32) -> u32 {
    n * 2
}

/// The body of the worker processes that `fleet_of_two_workers_seen_by_the_cli` starts; it
/// refuses to run on its own.
#[test]
#[ignore = "a worker process of the fleet test, started by it"]
fn fleet_worker_process() {
    let url = std::env::var(WORKER_URL_ENV).expect(
        "this is a worker process of the fleet test: run `fleet_of_two_workers_seen_by_the_cli`",
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let client = taskq::Client::connect(&url).await.unwrap();
        let term = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
            term.recv().await;
        };
        taskq::Worker::builder()
            .client(client)
            .queues(["fleet"])
            .concurrency(8)
            .heartbeat_interval(HEARTBEAT)
            .shutdown_on(term)
            .run()
            .await
            .unwrap();
    });
}

fn start_worker(url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "fleet_worker_process",
            "--nocapture",
        ])
        .env(WORKER_URL_ENV, url)
        .env("TASKQ_URL", url)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a worker process")
}

fn taskq(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskq"));
    cmd.arg("--url").arg(url);
    cmd
}

/// The pids of the live workers, as `taskq workers --json` lists them.
fn live_pids(url: &str) -> Vec<u32> {
    let out = taskq(url)
        .args(["workers", "--json"])
        .output()
        .expect("run taskq workers");
    assert!(
        out.status.success(),
        "taskq workers failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let workers: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("taskq workers --json is a JSON array");
    let mut pids: Vec<u32> = workers
        .iter()
        .map(|w| w["pid"].as_u64().expect("a worker has a pid") as u32)
        .collect();
    pids.sort_unstable();
    pids
}

fn wait_for_pids(url: &str, want: &[u32], within: Duration) -> Duration {
    let mut want = want.to_vec();
    want.sort_unstable();
    let started = Instant::now();
    loop {
        let live = live_pids(url);
        if live == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "after {within:?} the live workers are {live:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_of_two_workers_seen_by_the_cli() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut w1 = start_worker(&url);
    let mut w2 = start_worker(&url);
    let (p1, p2) = (w1.id(), w2.id());
    wait_for_pids(&url, &[p1, p2], Duration::from_secs(30));

    // The follower reads the log from its start, so it cannot miss what comes before it is up.
    let mut follower = taskq(&url)
        .args([
            "events",
            "--follow",
            "--from-start",
            "--json",
            "--queue",
            "fleet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start taskq events --follow");
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });

    let client = taskq::Client::connect(&url).await.unwrap();
    let handles = client.send_many((0..TASKS).map(double::new)).await.unwrap();
    let mut ids = Vec::new();
    for (n, h) in handles.into_iter().enumerate() {
        ids.push(h.id());
        assert_eq!(h.get().await.unwrap(), n as u32 * 2);
    }

    let want = TASKS as usize * 3;
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => panic!("the follower printed {} of {want} events", lines.len()),
        }
    }
    // Anything more (a duplicate) would come right after.
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        lines.push(l);
    }
    let _ = follower.kill();
    let _ = follower.wait();

    let mut by_task: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for l in &lines {
        let e: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
        let id = e["id"].as_str().expect("an event has an id").to_owned();
        by_task.entry(id).or_default().push(e);
    }
    assert_eq!(
        by_task.len(),
        TASKS as usize,
        "events of {} tasks",
        by_task.len()
    );
    let mut ran_on: HashMap<String, usize> = HashMap::new();
    for id in &ids {
        let evs = by_task
            .get(&id.to_string())
            .unwrap_or_else(|| panic!("no events of task {id}"));
        let kinds: Vec<&str> = evs.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["enqueued", "started", "succeeded"],
            "task {id}: each event exactly once, in order"
        );
        let worker = evs[1]["worker"].as_str().expect("started names its worker");
        assert_eq!(evs[2]["worker"].as_str(), Some(worker));
        assert!(evs[2]["runtime_ms"].is_u64());
        *ran_on.entry(worker.to_owned()).or_default() += 1;
    }
    assert!(
        ran_on.len() <= 2 && !ran_on.is_empty(),
        "tasks ran on {ran_on:?}"
    );

    // SIGKILL: no goodbye, so the worker leaves when its heartbeat runs out.
    w1.kill().unwrap();
    let _ = w1.wait();
    let gone = wait_for_pids(&url, &[p2], HEARTBEAT * 3 + Duration::from_secs(2));
    assert!(
        gone <= HEARTBEAT * 3 + Duration::from_millis(500),
        "the killed worker was listed for {gone:?}, more than three heartbeats"
    );

    // SIGTERM: a warm shutdown removes the worker at once.
    let status = Command::new("kill")
        .args(["-TERM", &p2.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exited = w2.wait().unwrap();
    assert!(exited.success(), "the worker exited with {exited}");
    assert!(
        live_pids(&url).is_empty(),
        "a worker that shut down warm is still listed"
    );
}
