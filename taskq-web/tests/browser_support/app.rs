//! The served dashboard of one browser scenario: a private redis-server, the router with one
//! token per role, a worker in this process, and the API calls the scenarios check the page
//! against.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};
use taskq::{Client, Worker, WorkerBuilder, WorkerHandle};
use taskq_redis::testing::RedisServer;
use taskq_web::{Role, WebConfig};

use super::{serve, Browser};

/// One scenario's server side.
pub struct App {
    pub redis: RedisServer,
    pub client: Client,
    pub base: String,
    pub operator: String,
    pub viewer: String,
    pub admin: String,
    pub http: reqwest::Client,
    pub worker: Option<WorkerHandle>,
}

impl App {
    /// Starts redis-server, the router and a worker on `queues` (tuned by `tune`).
    pub async fn start(queues: &[&str], tune: impl FnOnce(WorkerBuilder) -> WorkerBuilder) -> App {
        let redis = RedisServer::start();
        let client = Client::connect(&redis.url()).await.expect("connect redis");
        let (operator, operator_line) = taskq_web::token::create(Role::Operator).expect("token");
        let (viewer, viewer_line) = taskq_web::token::create(Role::Viewer).expect("token");
        let (admin, admin_line) = taskq_web::token::create(Role::Admin).expect("token");
        let router = WebConfig::new()
            .token_lines(&format!("{operator_line}\n{viewer_line}\n{admin_line}"))
            .expect("token lines")
            .router_on(client.clone())
            .expect("router");
        let base = serve(router).await;
        let worker = tune(
            Worker::builder()
                .client(client.clone())
                .queues(queues.iter().copied())
                .heartbeat_interval(Duration::from_millis(500)),
        )
        .spawn()
        .expect("worker");
        App {
            redis,
            client,
            base,
            operator,
            viewer,
            admin,
            http: reqwest::Client::new(),
            worker: Some(worker),
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/tasks/{task}` as the operator; the answer's status and body.
    pub async fn try_submit(&self, task: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(&format!("/api/tasks/{task}")))
            .bearer_auth(&self.operator)
            .json(body)
            .send()
            .await
            .expect("submit");
        let status = r.status().as_u16();
        let text = r.text().await.expect("submit body");
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("submit {task} answered non-JSON ({e}): {text}"));
        (status, v)
    }

    /// Submits through the API; the new task's id.
    pub async fn submit(&self, task: &str, body: Value) -> String {
        let (status, v) = self.try_submit(task, &body).await;
        assert_eq!(status, 202, "submit {task}: {v}");
        v["id"].as_str().expect("an id").to_owned()
    }

    /// `GET` of an API path as the operator, as JSON.
    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.operator)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status();
        let text = r.text().await.expect("body");
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// `POST` of an API path as the operator, with no body; panics unless it succeeds.
    pub async fn post(&self, path: &str) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.operator)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path}: {status} {text}");
    }

    /// The task's status from the API.
    pub async fn state(&self, id: &str) -> Value {
        self.get(&format!("/api/tasks/{id}")).await
    }

    /// The task's status once it is done (the API's `?wait=`, at most 10 s).
    pub async fn wait_done(&self, id: &str) -> Value {
        let v = self.get(&format!("/api/tasks/{id}?wait=10s")).await;
        assert_eq!(
            v["done"],
            json!(true),
            "task {id} was not done within 10 s: {v}"
        );
        v
    }

    /// The queue's entry of `GET /api/queues`, `None` when the API does not list it.
    pub async fn queue(&self, name: &str) -> Option<Value> {
        let v = self.get("/api/queues").await;
        v["queues"]
            .as_array()
            .expect("a list of queues")
            .iter()
            .find(|q| q["name"] == name)
            .cloned()
    }

    /// Waits (at most `within`) until `check` holds of the queue's API entry.
    pub async fn wait_queue(&self, name: &str, within: Duration, check: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            let q = self.queue(name).await;
            if q.as_ref().is_some_and(&check) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "queue {name} did not reach the expected state within {within:?}: {q:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the worker.
    pub async fn stop(mut self) {
        if let Some(w) = self.worker.take() {
            w.shutdown().await.expect("worker shutdown");
        }
    }
}

/// Logs `b` in with `token` through the login page.
pub async fn login(b: &Browser, base: &str, token: &str) {
    b.client
        .goto(&format!("{base}/login"))
        .await
        .expect("open the login page");
    let field = b.wait_css("#token", Duration::from_secs(10)).await;
    field.send_keys(token).await.expect("type the token");
    b.client
        .find(Locator::Css("#login-submit"))
        .await
        .expect("the login button")
        .click()
        .await
        .expect("log in");
    b.wait_css("header nav a.active", Duration::from_secs(10))
        .await;
    let url = b.client.current_url().await.expect("url");
    assert!(
        !url.path().starts_with("/login"),
        "still on the login page: {url}"
    );
}

/// Opens `path` and waits until the page's stream is open (the header says "live").
pub async fn open(b: &Browser, base: &str, path: &str) {
    b.client
        .goto(&format!("{base}{path}"))
        .await
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    wait_live(b).await;
}

/// Waits until the page's stream is open (the header says "live").
pub async fn wait_live(b: &Browser) {
    b.wait_css("#live.on", Duration::from_secs(10)).await;
}

/// Sets a marker in the page that a reload would lose.
pub async fn mark(b: &Browser) {
    b.js("window.__taskqMarker = 'still here'; return true;")
        .await;
}

/// Asserts the marker of [`mark`] is still there: the page did not reload.
pub async fn assert_marked(b: &Browser, what: &str) {
    assert_eq!(
        b.js("return window.__taskqMarker || null;").await,
        json!("still here"),
        "the page reloaded instead of updating in place ({what})"
    );
}

/// Clicks the confirmation dialog's OK after checking its text with `check`; returns the text.
pub async fn confirm(b: &Browser, check: impl Fn(&str) -> bool) -> String {
    let ok = b
        .wait_css("dialog#confirm[open] #confirm-ok", Duration::from_secs(5))
        .await;
    let text = b
        .client
        .find(Locator::Css("#confirm-text"))
        .await
        .expect("confirmation text")
        .text()
        .await
        .expect("text");
    assert!(check(&text), "unexpected confirmation: {text:?}");
    ok.click().await.expect("confirm");
    text
}
