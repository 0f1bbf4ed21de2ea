//! A served API on a private Redis with a worker in this process, and three tokens.
#![allow(dead_code)] // each test file uses part of it

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use taskq::canvas::Canvas;
use taskq_redis::testing::RedisServer;
use taskq_web::{token, Role, WebConfig};

/// Adds two numbers.
#[taskq::task]
pub async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Says hello.
#[taskq::task(queue = "greetings")]
pub async fn greet(name: String, excited: Option<bool>) -> String {
    if excited.unwrap_or(false) {
        format!("Hello, {name}!")
    } else {
        format!("Hello, {name}")
    }
}

/// Whether `flaky` succeeds: it fails until the test flips this.
pub static FLAKY_OK: AtomicBool = AtomicBool::new(false);

/// Fails (for good: one attempt) until `FLAKY_OK` is set.
#[taskq::task(queue = "fragile")]
pub async fn flaky(n: u32) -> Result<u32, String> {
    if FLAKY_OK.load(Ordering::SeqCst) {
        Ok(n)
    } else {
        Err(format!("not yet ({n})"))
    }
}

/// Counts 1..=n.
#[taskq::task]
pub async fn count(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

/// Sums values.
#[taskq::task]
pub async fn total(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

/// Sums 1..=n in two steps.
#[taskq::workflow]
pub fn summed(n: u32) -> impl Canvas<Output = u32> {
    count::new(n).then(total::partial())
}

/// The task names as the registry knows them.
pub fn name_of<T: taskq::Task>() -> &'static str {
    T::NAME
}

/// Tokens of each role.
#[derive(Debug)]
pub struct Tokens {
    pub viewer: String,
    pub operator: String,
    pub admin: String,
}

/// A running API.
#[derive(Debug)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub client: taskq::Client,
    pub tokens: Tokens,
    pub redis: RedisServer,
    pub worker: Option<taskq::WorkerHandle>,
}

/// Options of [`start_with`].
#[derive(Debug, Default)]
pub struct Setup {
    pub anonymous: Option<Role>,
    pub body_limit: Option<usize>,
    pub no_worker: bool,
    pub any_task: bool,
}

pub async fn start() -> Api {
    start_with(Setup::default()).await
}

pub async fn start_with(setup: Setup) -> Api {
    let redis = RedisServer::start();
    let client = taskq::Client::connect(&redis.url())
        .await
        .expect("connect to the private redis");
    let mut lines = String::new();
    let mut make = |role| {
        let (secret, line) = token::create(role).expect("token");
        lines.push_str(&line);
        lines.push('\n');
        secret
    };
    let tokens = Tokens {
        viewer: make(Role::Viewer),
        operator: make(Role::Operator),
        admin: make(Role::Admin),
    };
    let mut config = WebConfig::new()
        .client(client.clone())
        .token_lines(&lines)
        .expect("token lines")
        .anonymous(setup.anonymous)
        .max_wait(Duration::from_secs(20))
        .any_task(setup.any_task);
    if let Some(limit) = setup.body_limit {
        config = config.body_limit(limit);
    }
    let router = config.router().await.expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let worker = (!setup.no_worker).then(|| {
        taskq::Worker::builder()
            .client(client.clone())
            .queues(["default", "greetings", "fragile"])
            .spawn()
            .expect("worker")
    });
    Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        client,
        tokens,
        redis,
        worker,
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(token).json(body)
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub async fn stats(&self, queue: &str) -> taskq::backend::QueueStats {
        self.client
            .backend()
            .queue_stats(queue)
            .await
            .expect("queue stats")
    }

    pub async fn shutdown(mut self) {
        if let Some(w) = self.worker.take() {
            w.shutdown().await.expect("worker shutdown");
        }
    }
}

/// The JSON body of a response, with its status checked.
pub async fn json(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let ctype = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "status {got} ({ctype}): {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The problem body of an error response, with its status and media type checked.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    let ctype = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = json(response, status).await;
    assert_eq!(ctype, "application/problem+json", "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}
