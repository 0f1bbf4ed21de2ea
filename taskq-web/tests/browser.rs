//! The dashboard in a real browser: Debian's headless Chromium (over chromedriver) against the
//! served router on a private redis-server, with a real worker in this process.
//!
//! - a task submitted through the API appears on the Tasks page within one second, without a
//!   reload (a marker variable set in the page survives);
//! - a failing task reaches Dead letters; a click on requeue, after the confirmation, runs it
//!   again and its page turns `succeeded`;
//! - a viewer sees no requeue button, and a forged request with its token gets `403`.
//!
//! Screenshots go to `target/taskq-web-screenshots/`.

mod browser_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use browser_support::{serve, Browser};
use fantoccini::Locator;
use serde_json::{json, Value};
use taskq::{Client, Worker};
use taskq_redis::testing::RedisServer;
use taskq_web::{Role, WebConfig};

/// The queue the worker serves.
const WORK: &str = "web-work";
/// A queue nobody serves: what is sent there stays ready, to be seen on the Tasks page.
const PARKED: &str = "web-parked";

/// Whether `flaky` succeeds yet.
static HEALED: AtomicBool = AtomicBool::new(false);

/// Adds two numbers.
#[taskq::task(queue = "web-work")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Fails for every seventh `n`, once: some failures for the overview's chart.
#[taskq::task(queue = "web-load", max_attempts = 1)]
async fn sometimes(n: u32) -> Result<u32, String> {
    if n % 7 == 0 {
        Err(format!("{n} is a multiple of 7"))
    } else {
        Ok(n)
    }
}

/// Fails until the test heals it; one attempt only, so it goes straight to the dead letters.
#[taskq::task(queue = "web-work", max_attempts = 1)]
async fn flaky(n: u32) -> Result<u32, String> {
    if HEALED.load(Ordering::SeqCst) {
        Ok(n)
    } else {
        Err(format!("flaky {n} is not healed yet"))
    }
}

struct Env {
    base: String,
    operator: String,
    viewer: String,
    http: reqwest::Client,
}

impl Env {
    async fn submit(&self, task: &str, body: Value) -> String {
        let r = self
            .http
            .post(format!("{}/api/tasks/{task}", self.base))
            .bearer_auth(&self.operator)
            .json(&body)
            .send()
            .await
            .expect("submit");
        let status = r.status();
        let text = r.text().await.expect("submit body");
        assert_eq!(status.as_u16(), 202, "submit {task}: {text}");
        let v: Value = serde_json::from_str(&text).expect("submit answers JSON");
        v["id"].as_str().expect("an id").to_owned()
    }

    async fn state(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/api/tasks/{id}", self.base))
            .bearer_auth(&self.operator)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("status JSON")
    }
}

async fn login(b: &Browser, base: &str, token: &str) {
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

/// Waits until the page's stream is open (the header says "live").
async fn wait_live(b: &Browser) {
    b.wait_css("#live.on", Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
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
    let env = Env {
        base: base.clone(),
        operator: operator.clone(),
        viewer: viewer.clone(),
        http: reqwest::Client::new(),
    };
    let worker = Worker::builder()
        .client(client.clone())
        .queues([WORK, "web-load"])
        .heartbeat_interval(Duration::from_millis(500))
        .spawn()
        .expect("worker");

    // Some history for the overview, and the parked queue made known.
    for i in 0..20 {
        env.submit(<add as taskq::Task>::NAME, json!({"a": i, "b": 1}))
            .await;
    }
    env.submit(
        <add as taskq::Task>::NAME,
        json!({"a": 0, "b": 0, "options": {"queue": PARKED}}),
    )
    .await;

    let b = Browser::start(1280, 900).await;
    login(&b, &base, &admin).await;
    wait_live(&b).await;
    b.wait_css("#workers-up", Duration::from_secs(10)).await;
    // Some load for the charts to draw (for the screenshot; nothing is asserted of it).
    let mut n = 0u32;
    for round in 0..40u32 {
        let burst = 10 + (round % 8) * 6;
        client
            .send_many((0..burst).map(|_| {
                n += 1;
                sometimes::new(n)
            }))
            .await
            .expect("send load");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    b.screenshot("overview").await;

    // --- a task submitted through the API shows up on the Tasks page, live -------------------
    b.client
        .goto(&format!("{base}/tasks"))
        .await
        .expect("open Tasks");
    wait_live(&b).await;
    b.js("window.__taskqMarker = 'still here'; return true;")
        .await;
    let started = Instant::now();
    let id = env
        .submit(
            <add as taskq::Task>::NAME,
            json!({"a": 40, "b": 2, "options": {"queue": PARKED}}),
        )
        .await;
    b.wait_css(
        &format!("#tasks tr[data-id='{id}']"),
        Duration::from_secs(5),
    )
    .await;
    let seen_after = started.elapsed();
    assert!(
        seen_after <= Duration::from_secs(1),
        "the task took {seen_after:?} to appear on the Tasks page (at most 1 s)"
    );
    assert_eq!(
        b.js("return window.__taskqMarker || null;").await,
        json!("still here"),
        "the Tasks page reloaded instead of updating in place"
    );
    b.screenshot("tasks").await;

    // --- a failing task reaches Dead letters; requeue runs it again --------------------------
    let dead_id = env
        .submit(<flaky as taskq::Task>::NAME, json!({"n": 7}))
        .await;
    b.client
        .goto(&format!("{base}/dead"))
        .await
        .expect("open Dead letters");
    wait_live(&b).await;
    let requeue = format!("tr[data-id='{dead_id}'] button.requeue");
    b.wait_css(&requeue, Duration::from_secs(10)).await;
    b.screenshot("dead").await;
    HEALED.store(true, Ordering::SeqCst);
    b.click_css(&requeue, Duration::from_secs(5)).await;
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
    assert!(
        text.contains(&dead_id),
        "the confirmation names the task: {text}"
    );
    ok.click().await.expect("confirm");
    // The row leaves the page live, and the task succeeds.
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.has(&format!("tr[data-id='{dead_id}']")).await {
        assert!(
            Instant::now() < deadline,
            "the requeued dead letter stayed listed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.client
        .goto(&format!("{base}/tasks/{dead_id}"))
        .await
        .expect("open the task");
    b.wait_css(
        "#task-state[data-state='succeeded']",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(env.state(&dead_id).await["state"], "succeeded");
    b.screenshot("task").await;

    // --- a viewer: no requeue button, and a forged request is refused ------------------------
    HEALED.store(false, Ordering::SeqCst);
    let dead2 = env
        .submit(<flaky as taskq::Task>::NAME, json!({"n": 8}))
        .await;
    b.client
        .find(Locator::Css("form[action='/logout'] button"))
        .await
        .expect("the log-out button")
        .click()
        .await
        .expect("log out");
    login(&b, &base, &viewer).await;
    b.client
        .goto(&format!("{base}/dead"))
        .await
        .expect("open Dead letters as a viewer");
    wait_live(&b).await;
    b.wait_css(&format!("tr[data-id='{dead2}']"), Duration::from_secs(10))
        .await;
    assert!(
        !b.has("button.requeue, button[data-action], button[data-dead-bulk]")
            .await,
        "a viewer sees action buttons"
    );
    b.screenshot("dead-viewer").await;
    // The page's own action endpoint, with the viewer's cookie.
    let forged = b
        .js(&format!(
            "var x = new XMLHttpRequest();
             x.open('POST', '/ui/actions/dead', false);
             x.setRequestHeader('Content-Type', 'application/json');
             x.send(JSON.stringify({{action: 'requeue', items: [{{queue: '{WORK}', id: '{dead2}'}}]}}));
             return x.status;"
        ))
        .await;
    assert_eq!(
        forged,
        json!(403),
        "a viewer's forged requeue from the page"
    );
    // The API's, with the viewer's token.
    let r = env
        .http
        .post(format!("{base}/api/queues/{WORK}/dead/requeue"))
        .bearer_auth(&env.viewer)
        .json(&json!({"ids": [dead2]}))
        .send()
        .await
        .expect("forged API request");
    assert_eq!(
        r.status().as_u16(),
        403,
        "a viewer's requeue through the API"
    );
    // Still dead.
    assert!(client
        .backend()
        .dead_letters(WORK, 100)
        .await
        .expect("dead letters")
        .iter()
        .any(|d| d.id.to_string() == dead2));

    // --- the overview on a phone ---------------------------------------------------------------
    let phone = Browser::start(390, 844).await;
    login(&phone, &base, &viewer).await;
    wait_live(&phone).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    phone.screenshot("overview-phone").await;
    phone.close().await;

    b.close().await;
    worker.shutdown().await.expect("worker shutdown");
}
