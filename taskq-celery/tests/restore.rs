//! A Rust worker killed (SIGKILL) in the middle of a task sent from Python: its message stays
//! in kombu's `unacked` hash, is restored after the visibility timeout, and another Rust worker
//! completes it. The killed worker is this test binary run again as a child process.

use std::sync::Arc;
use std::time::Duration;

use taskq::{Client, Worker, WorkerHandle};
use taskq_celery::testing::{run_python, PythonWorker, RedisServer};
use taskq_celery::CeleryBackend;

/// The Redis URL the task writes its marker to: set by the test, or, in the child worker,
/// passed in the environment.
static TASK_REDIS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn task_redis() -> redis::Client {
    let url = TASK_REDIS
        .get()
        .cloned()
        .or_else(|| std::env::var("TASKQ_CELERY_TEST_REDIS").ok())
        .unwrap_or_default();
    redis::Client::open(url).expect("a redis URL")
}

/// Sleeps for a minute the first time it runs (the worker is killed meanwhile), then returns
/// at once.
#[taskq::task(name = "tasks.slow_square", queue = "crash")]
async fn slow_square(x: i64) -> i64 {
    let mut conn = task_redis()
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let first: bool = redis::cmd("SETNX")
        .arg("slow-started")
        .arg(std::process::id())
        .query_async(&mut conn)
        .await
        .expect("setnx");
    if first {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    x * x
}

async fn client(url: &str) -> Client {
    Client::new(Arc::new(
        CeleryBackend::connect(url).await.expect("connect"),
    ))
}

fn rust_worker(client: &Client) -> WorkerHandle {
    Worker::builder()
        .client(client.clone())
        .queues(["crash"])
        .lease_duration(Duration::from_millis(900))
        .fetch_wait(Duration::from_millis(500))
        .grace_period(Duration::from_secs(2))
        .spawn()
        .expect("spawn a Rust worker")
}

/// The child process of the kill test: a Rust worker on queue `crash`, until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker_for_the_kill_test() {
    let Ok(url) = std::env::var("TASKQ_CELERY_CHILD_URL") else {
        return; // only runs as the kill test's child
    };
    let client = client(&url).await;
    let worker = rust_worker(&client);
    let _ = worker.join().await;
}

/// Sends `tasks.slow_square(12)` from Python to a child Rust worker, kills the child with
/// SIGKILL while the task runs, and returns the task id.
async fn killed_mid_task(server: &RedisServer) -> String {
    let url = format!(
        "celery+redis://127.0.0.1:{}/0?visibility_timeout=2",
        server.port()
    );
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_worker_for_the_kill_test", "--nocapture"])
        .env("TASKQ_CELERY_CHILD_URL", &url)
        .env("TASKQ_CELERY_TEST_REDIS", server.url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("child worker");
    let url_for_py = server.url();
    let id = tokio::task::spawn_blocking(move || {
        run_python(
            &url_for_py,
            r#"
from celery_tasks import app
print(app.send_task("tasks.slow_square", args=(12,), queue="crash").id)
"#,
        )
    })
    .await
    .expect("python");
    let id = id.trim().to_owned();
    // Wait until the child runs it: the message is in `unacked` and the task has started.
    let started = std::time::Instant::now();
    loop {
        let running = server.query(&["EXISTS", "slow-started"]).ok() == Some(redis::Value::Int(1));
        let held = server.query(&["HLEN", "unacked"]).ok() == Some(redis::Value::Int(1));
        if running && held {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child worker never started the task"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("kill -9 the child worker");
    let _ = child.wait();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_rust_workers_message_is_restored_and_completed() {
    let server = RedisServer::start();
    let url = format!(
        "celery+redis://127.0.0.1:{}/0?visibility_timeout=2",
        server.port()
    );
    let id = killed_mid_task(&server).await;

    // A second Rust worker restores it after the visibility timeout and runs it.
    let _ = TASK_REDIS.set(server.url());
    let client = client(&url).await;
    let worker = rust_worker(&client);
    let handle = client.result::<i64>(id.parse().expect("a uuid"));
    assert_eq!(
        handle
            .get_timeout(Duration::from_secs(30))
            .await
            .expect("completed"),
        144
    );
    let unacked: i64 =
        redis::from_redis_value(server.query(&["HLEN", "unacked"]).expect("hlen")).expect("int");
    assert_eq!(unacked, 0);
    worker.shutdown().await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_worker_restores_what_a_killed_rust_worker_took() {
    let server = RedisServer::start();
    let id = killed_mid_task(&server).await;
    // kombu restores only entries older than the visibility timeout (2 s here), and a worker
    // that starts before then may not look again for a while: let the entry age first.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // kombu's own restore_visible reads the `unacked` entry the Rust worker wrote.
    let python = tokio::task::spawn_blocking({
        let url = server.url();
        move || PythonWorker::start(&url, "crash", &[("CELERY_VISIBILITY_TIMEOUT", "2")])
    })
    .await
    .expect("python worker");
    let client = client(&format!("celery+redis://127.0.0.1:{}/0", server.port())).await;
    let handle = client.result::<i64>(id.parse().expect("a uuid"));
    let value = handle.get_timeout(Duration::from_secs(40)).await;
    assert_eq!(
        value.ok(),
        Some(144),
        "python worker log:\n{}",
        python.log()
    );
    drop(python);
}
