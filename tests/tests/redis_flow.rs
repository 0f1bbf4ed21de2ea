//! Fleet-wide flow control on Redis with real worker processes (`flow_worker`) and a private
//! `redis-server`: four workers at concurrency 16 hold one task's rate limit, and a SIGKILLed
//! worker's concurrency permits come back with its leases.

#[path = "../src/bin/flow_worker/tasks.rs"]
mod tasks;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use taskq::backend::Backend;
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

struct WorkerProc {
    child: Child,
}

impl WorkerProc {
    fn spawn(url: &str, name: &str, concurrency: usize) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_flow_worker"))
            .env("TASKQ_URL", url)
            .env("WORKER_NAME", name)
            .env("FLOW_LEASE_MS", "1000")
            .env("TASKQ_CONCURRENCY", concurrency.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the worker process");
        Self { child }
    }

    /// SIGKILL: no hand-back; its leases (and permits) must expire.
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

async fn backend(server: &RedisServer) -> RedisBackend {
    RedisBackend::connect(&server.url())
        .await
        .expect("connect to the private redis-server")
}

fn int(server: &RedisServer, args: &[&str]) -> i64 {
    match server.query(args) {
        Ok(redis::Value::Int(n)) => n,
        Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).parse().unwrap_or(0),
        _ => 0,
    }
}

async fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_hold_a_rate_limit_within_five_percent_over_ten_seconds() {
    let server = RedisServer::start();
    let url = server.url();
    let b = backend(&server).await;
    // 13 s of work at the limit: the window measured is 10 s after the first second.
    let total = 13 * tasks::RATE as u32;
    let envs: Vec<_> = (0..total)
        .map(|n| tasks::rated::new(n).into_envelope().expect("envelope"))
        .collect();
    for chunk in envs.chunks(500) {
        b.publish(chunk.to_vec()).await.expect("publish");
    }
    let _workers: Vec<_> = (0..4)
        .map(|i| WorkerProc::spawn(&url, &format!("w{i}"), 16))
        .collect();
    wait_for("every rated task to start", Duration::from_secs(60), || {
        int(&server, &["LLEN", "flow:starts"]) >= i64::from(total)
    })
    .await;
    let starts = match server.query(&["LRANGE", "flow:starts", "0", "-1"]) {
        Ok(redis::Value::Array(v)) => v,
        other => panic!("no start times: {other:?}"),
    };
    let mut us: Vec<u64> = starts
        .into_iter()
        .filter_map(|v| match v {
            redis::Value::BulkString(b) => String::from_utf8_lossy(&b).parse().ok(),
            _ => None,
        })
        .collect();
    us.sort_unstable();
    assert_eq!(us.len(), total as usize, "every task started exactly once");
    let from = us[0] + 1_000_000;
    let to = from + 10_000_000;
    let in_window = us.iter().filter(|&&t| t >= from && t < to).count() as f64;
    let want = 10.0 * tasks::RATE as f64;
    let rate = in_window / 10.0;
    eprintln!(
        "aggregate rate over 10 s: {rate:.1}/s (limit {}/s)",
        tasks::RATE
    );
    assert!(
        (in_window - want).abs() <= want * 0.05,
        "{in_window} starts in 10 s, want {want} ± 5% (limit {}/s)",
        tasks::RATE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_workers_concurrency_permits_come_back() {
    let server = RedisServer::start();
    let url = server.url();
    let b = backend(&server).await;
    let envs: Vec<_> = (0..6)
        .map(|n| tasks::capped::new(n).into_envelope().expect("envelope"))
        .collect();
    let ids: Vec<_> = envs.iter().map(|e| e.id).collect();
    b.publish(envs).await.expect("publish");
    // Worker `a` takes both permits (its tasks hang), then dies without handing them back.
    let mut a = WorkerProc::spawn(&url, "a", 8);
    wait_for(
        "worker a to start two tasks",
        Duration::from_secs(30),
        || int(&server, &["GET", "flow:capped"]) >= 2,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        int(&server, &["GET", "flow:capped"]),
        2,
        "a limit of 2 let more start"
    );
    a.kill();
    let _b = WorkerProc::spawn(&url, "b", 8);
    let started = Instant::now();
    for id in ids {
        let rec = loop {
            if let Some(r) = b.record(id).await.expect("record") {
                if r.outcome.is_some() {
                    break r;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "task {id} never finished: the dead worker's permits did not come back"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            matches!(rec.outcome, Some(taskq::Outcome::Success(_))),
            "task {id}: {:?}",
            rec.outcome
        );
    }
}
