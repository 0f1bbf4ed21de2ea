//! Rust and real Python Celery (pinned, in a venv the tests create) on one private
//! `redis-server`: Python calls Rust, Rust calls Python, a chain crosses both, both drain one
//! queue. (tests/restore.rs: a killed Rust worker's message is restored and completed.)

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};
use taskq::{Client, Error, Worker, WorkerHandle};
use taskq_celery::testing::{run_python, PythonWorker, RedisServer};
use taskq_celery::{CeleryBackend, SendTask};

/// The Redis URL `tasks.record` writes to (only the draining test runs it).
static TASK_REDIS: OnceLock<String> = OnceLock::new();

fn task_redis() -> redis::Client {
    redis::Client::open(TASK_REDIS.get().cloned().unwrap_or_default()).expect("a redis URL")
}

#[taskq::task(name = "tasks.add", queue = "rs")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[taskq::task(name = "tasks.describe", queue = "rs")]
async fn describe(
    name: String,
    scores: Vec<f64>,
    flags: BTreeMap<String, bool>,
    nickname: Option<String>,
) -> Value {
    json!({
        "name": name.to_uppercase(),
        "total": scores.iter().sum::<f64>(),
        "on": flags.iter().filter(|(_, v)| **v).map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        "nickname": nickname,
    })
}

#[taskq::task(name = "tasks.fail", queue = "rs")]
async fn fail(why: String) -> Result<i64, String> {
    Err(format!("rust says no: {why}"))
}

/// Fails on its first two attempts; Celery counts them in the `retries` header.
#[taskq::task(name = "tasks.flaky", queue = "rs", retries = 2, backoff = "100ms")]
async fn flaky(ctx: taskq::Context, word: String) -> Result<String, String> {
    if ctx.attempt() < 3 {
        return Err(format!("attempt {} failed", ctx.attempt()));
    }
    Ok(format!("{word} after {} retries", ctx.attempt() - 1))
}

#[taskq::task(name = "tasks.record", queue = "shared")]
async fn record(n: u64) -> u64 {
    let mut conn = task_redis()
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let _: i64 = redis::cmd("RPUSH")
        .arg("done")
        .arg(format!("rs:{n}"))
        .query_async(&mut conn)
        .await
        .expect("rpush");
    n
}

fn celery_url(server: &RedisServer, params: &str) -> String {
    format!("celery+redis://127.0.0.1:{}/0{params}", server.port())
}

async fn client(url: &str) -> Client {
    Client::new(Arc::new(
        CeleryBackend::connect(url).await.expect("connect"),
    ))
}

fn rust_worker(client: &Client, queues: &[&str]) -> WorkerHandle {
    Worker::builder()
        .client(client.clone())
        .queues(queues.iter().copied())
        .lease_duration(Duration::from_secs(3))
        .fetch_wait(Duration::from_millis(500))
        .grace_period(Duration::from_secs(2))
        .spawn()
        .expect("spawn a Rust worker")
}

async fn py(url: String, script: &'static str) -> String {
    tokio::task::spawn_blocking(move || run_python(&url, script))
        .await
        .expect("python thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_calls_rust_tasks() {
    let server = RedisServer::start();
    let client = client(&celery_url(&server, "")).await;
    let worker = rust_worker(&client, &["rs"]);
    let out = py(
        server.url(),
        r#"
import json, time
from celery_tasks import app
def call(_task, *args, **kwargs):
    return app.send_task(_task, args=args, kwargs=kwargs, queue="rs")
out = {}
out["positional"] = call("tasks.add", 2, 3).get(timeout=20)
out["keyword"] = call("tasks.add", b=10, a=1).get(timeout=20)
out["mixed"] = call("tasks.add", 7, b=8).get(timeout=20)
out["types"] = call("tasks.describe", "ada", [1.5, 2.5], {"x": True, "y": False}, nickname=None).get(timeout=20)
out["types_default"] = call("tasks.describe", name="bob", scores=[], flags={}, nickname="b").get(timeout=20)
try:
    call("tasks.fail", "because").get(timeout=20)
    out["error"] = None
except Exception as e:
    out["error"] = [type(e).__name__, str(e)]
try:
    call("tasks.add", 1, 2, 3).get(timeout=20)
    out["too_many"] = None
except Exception as e:
    out["too_many"] = str(e)
out["flaky"] = call("tasks.flaky", "ok").get(timeout=20)
r = app.send_task("tasks.add", args=(1, 1), queue="rs", expires=-1)
try:
    r.get(timeout=20)
    out["expired"] = None
except Exception as e:
    out["expired"] = [type(e).__name__, r.state]
start = time.time()
r = app.send_task("tasks.add", args=(20, 22), queue="rs", countdown=2)
out["countdown"] = r.get(timeout=20)
out["countdown_waited"] = time.time() - start
print(json.dumps(out))
"#,
    )
    .await;
    let out: Value = serde_json::from_str(out.trim()).expect("json from python");
    assert_eq!(out["positional"], 5);
    assert_eq!(out["keyword"], 11);
    assert_eq!(out["mixed"], 15);
    assert_eq!(
        out["types"],
        json!({"name": "ADA", "total": 4.0, "on": ["x"], "nickname": null})
    );
    assert_eq!(out["types_default"]["nickname"], "b");
    assert_eq!(
        out["error"],
        json!(["RuntimeError", "rust says no: because"])
    );
    assert!(
        out["too_many"]
            .as_str()
            .is_some_and(|s| s.contains("takes 2 positional argument")),
        "{out}"
    );
    assert_eq!(out["flaky"], "ok after 2 retries");
    assert_eq!(out["expired"], json!(["TaskRevokedError", "REVOKED"]));
    assert_eq!(out["countdown"], 42);
    assert!(
        out["countdown_waited"].as_f64().is_some_and(|s| s >= 1.9),
        "{out}"
    );
    worker.shutdown().await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_python_tasks_with_typed_results() {
    let server = RedisServer::start();
    let url = celery_url(&server, "");
    let python = tokio::task::spawn_blocking({
        let url = server.url();
        move || PythonWorker::start(&url, "py,celery", &[])
    })
    .await
    .expect("python worker");
    let client = client(&url).await;

    let product = SendTask::new("tasks.mul")
        .args((6, 7))
        .expect("args")
        .queue("py")
        .send::<i64>(&client)
        .await
        .expect("sent");
    assert_eq!(
        product
            .get_timeout(Duration::from_secs(20))
            .await
            .expect("42"),
        42
    );

    // The default queue is Celery's `celery`; keyword and positional arguments together.
    let joined = taskq_celery::send_task::<String>(
        &client,
        "tasks.concat",
        (vec!["a", "b", "c"],),
        json!({"sep": "-"}),
    )
    .await
    .expect("sent");
    assert_eq!(
        joined
            .get_timeout(Duration::from_secs(20))
            .await
            .expect("joined"),
        "a-b-c"
    );

    let failing = SendTask::new("tasks.py_fail")
        .args(("boom",))
        .expect("args")
        .queue("py")
        .send::<i64>(&client)
        .await
        .expect("sent");
    match failing.get_timeout(Duration::from_secs(20)).await {
        Err(Error::TaskFailed { failure, .. }) => {
            assert_eq!(failure.message, "ValueError: boom");
        }
        other => panic!("expected the Python exception, got {other:?}"),
    }
    drop(python);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_from_python_alternates_python_and_rust_tasks() {
    let server = RedisServer::start();
    let client = client(&celery_url(&server, "")).await;
    let worker = rust_worker(&client, &["rs"]);
    let python = tokio::task::spawn_blocking({
        let url = server.url();
        move || PythonWorker::start(&url, "py", &[])
    })
    .await
    .expect("python worker");
    let out = py(
        server.url(),
        r#"
import json
from celery import chain
from celery_tasks import app
s = app.signature
c = chain(
    s("tasks.add", args=(1, 2), queue="rs"),       # Rust: 3
    s("tasks.mul", args=(10,), queue="py"),        # Python: 30
    s("tasks.add", args=(5,), queue="rs"),         # Rust: 35
    s("tasks.mul", args=(2,), queue="py"),         # Python: 70
    s("tasks.add", args=(100, 1), queue="rs", immutable=True),  # Rust, immutable: 101
)
r = c.apply_async()
value = r.get(timeout=30)
parents = []
p = r.parent
while p is not None:
    parents.append(p.get(timeout=5))
    p = p.parent
print(json.dumps({"value": value, "parents": parents}))
"#,
    )
    .await;
    let out: Value = serde_json::from_str(out.trim()).expect("json from python");
    assert_eq!(out["value"], 101);
    assert_eq!(out["parents"], json!([70, 35, 30, 3]));
    drop(python);
    worker.shutdown().await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_workers_drain_one_queue_exactly_once() {
    let server = RedisServer::start();
    TASK_REDIS.get_or_init(|| server.url());
    let python = tokio::task::spawn_blocking({
        let url = server.url();
        move || PythonWorker::start(&url, "shared", &[])
    })
    .await
    .expect("python worker");
    let client = client(&celery_url(&server, "")).await;
    let worker = rust_worker(&client, &["shared"]);
    let out = py(
        server.url(),
        r#"
import json
from celery_tasks import app
rs = [app.send_task("tasks.record", args=(n,), queue="shared") for n in range(300)]
print(json.dumps(sorted(r.get(timeout=60) for r in rs)))
"#,
    )
    .await;
    let results: Vec<u64> = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(results, (0..300).collect::<Vec<_>>());
    let done: Vec<String> = match server.query(&["LRANGE", "done", "0", "-1"]) {
        Ok(v) => redis::from_redis_value(v).expect("strings"),
        Err(e) => panic!("lrange: {e}"),
    };
    assert_eq!(done.len(), 300, "every task ran exactly once: {done:?}");
    let numbers: HashSet<&str> = done.iter().filter_map(|d| d.split(':').nth(1)).collect();
    assert_eq!(numbers.len(), 300);
    let by_rust = done.iter().filter(|d| d.starts_with("rs:")).count();
    let by_python = done.iter().filter(|d| d.starts_with("py:")).count();
    assert!(
        by_rust > 0 && by_python > 0,
        "rust {by_rust}, python {by_python}"
    );
    let unacked: i64 =
        redis::from_redis_value(server.query(&["HLEN", "unacked"]).expect("hlen")).expect("int");
    assert_eq!(unacked, 0);
    drop(python);
    worker.shutdown().await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_calls_rust_through_celery_messages_with_many_waiters() {
    let server = RedisServer::start();
    let client = client(&celery_url(&server, "")).await;
    let worker = rust_worker(&client, &["rs"]);
    let handles = client
        .send_many((0..200).map(|i| add::new(i, 1000)))
        .await
        .expect("sent");
    let results = futures_util::future::try_join_all(
        handles
            .iter()
            .map(|h| h.get_timeout(Duration::from_secs(30))),
    )
    .await
    .expect("all results");
    assert_eq!(results, (0..200).map(|i| i + 1000).collect::<Vec<i64>>());
    // One subscription connection served all 200 waiters, and ends up subscribed to nothing.
    let started = std::time::Instant::now();
    loop {
        let clients: String =
            redis::from_redis_value(server.query(&["CLIENT", "LIST"]).expect("client list"))
                .expect("text");
        let pubsub: Vec<&str> = clients
            .lines()
            .filter(|l| l.contains("cmd=unsubscribe") || l.contains("cmd=subscribe"))
            .collect();
        let subscribed = clients.lines().filter(|l| !l.contains(" sub=0 ")).count();
        if subscribed == 0 {
            assert!(pubsub.len() <= 1, "one pub/sub connection: {pubsub:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "waiters stay subscribed: {clients}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.shutdown().await.expect("worker stops");
}
