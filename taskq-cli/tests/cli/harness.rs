//! Runs the built `taskq` binary against a private Redis, with a worker in this process when a
//! test needs one.

use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use taskq::{Client, Worker, WorkerHandle};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

/// How often the test workers announce themselves (what they run shows in `taskq workers`).
pub const HEARTBEAT: Duration = Duration::from_millis(200);

/// A private Redis and a client of it.
pub struct Env {
    /// Kept alive for the test; dropped, it stops.
    pub _server: RedisServer,
    pub url: String,
    pub client: Client,
}

impl Env {
    pub async fn start() -> Env {
        let server = RedisServer::start();
        let url = server.url();
        let backend = RedisBackend::connect(&url).await.unwrap();
        Env {
            _server: server,
            url,
            client: Client::new(Arc::new(backend)),
        }
    }

    /// A worker of this process serving `queues`, one task at a time and holding none beyond
    /// it, so that whatever it does not run stays ready.
    pub async fn worker(&self, queues: &[&str]) -> WorkerHandle {
        let client = Client::connect(&self.url).await.unwrap();
        Worker::builder()
            .client(client)
            .queues(queues.iter().copied())
            .concurrency(1)
            .prefetch(0)
            .lease_duration(Duration::from_secs(3))
            .fetch_wait(Duration::from_millis(200))
            .grace_period(Duration::from_millis(200))
            .heartbeat_interval(HEARTBEAT)
            .spawn()
            .unwrap()
    }

    /// A worker for throughput: many at once.
    pub async fn busy_worker(&self, queues: &[&str]) -> WorkerHandle {
        let client = Client::connect(&self.url).await.unwrap();
        Worker::builder()
            .client(client)
            .queues(queues.iter().copied())
            .concurrency(64)
            .fetch_wait(Duration::from_millis(200))
            .grace_period(Duration::from_millis(200))
            .heartbeat_interval(HEARTBEAT)
            .spawn()
            .unwrap()
    }

    /// Runs `taskq --url <this Redis> args...`.
    pub async fn taskq(&self, args: &[&str]) -> Run {
        let mut all = vec!["--url", self.url.as_str()];
        all.extend_from_slice(args);
        taskq(&all).await
    }
}

/// Runs `taskq args...` (without `TASKQ_URL` from the environment), off the async runtime so
/// that the worker of the test keeps running meanwhile.
pub async fn taskq(args: &[&str]) -> Run {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let shown = args.join(" ");
    let output = tokio::task::spawn_blocking(move || {
        cargo_bin_cmd!("taskq")
            .args(&args)
            .env_remove(taskq::URL_ENV)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    Run::new(shown, output)
}

/// Runs `taskq args...` with `TASKQ_URL=url` in its environment.
pub async fn taskq_with_env(args: &[&str], url: &str) -> Run {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let url = url.to_owned();
    let shown = format!("{} (TASKQ_URL={url})", args.join(" "));
    let output = tokio::task::spawn_blocking(move || {
        cargo_bin_cmd!("taskq")
            .args(&args)
            .env(taskq::URL_ENV, url)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    Run::new(shown, output)
}

/// What a run printed, and how it exited.
#[derive(Debug)]
pub struct Run {
    pub args: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn new(args: String, out: Output) -> Self {
        Self {
            args,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts exit status 0 and returns itself.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "`taskq {}` failed: {self:#?}", self.args);
        self
    }

    /// Asserts exit status `code` with one line of error on stderr, and returns that line.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "`taskq {}`: {self:#?}", self.args);
        let line = self.stderr.trim_end();
        assert!(line.starts_with("error: "), "{self:#?}");
        assert!(!line.contains('\n'), "not one line: {self:#?}");
        assert!(self.stdout.is_empty(), "{self:#?}");
        line
    }

    /// Stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("`taskq {}` printed no JSON ({e}): {self:#?}", self.args))
    }
}

/// Waits up to 10 s for `check` to hold.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
