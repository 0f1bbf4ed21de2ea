//! Rust and Python Celery on one Redis: a Rust worker serves `tasks.add` to Python callers, and
//! a Rust client calls `tasks.mul`, which exists only in Python (`celery_interop.py`, beside
//! this file).
//!
//! ```text
//! redis-server &
//! python3 -m venv .venv && .venv/bin/pip install -r taskq-celery/python/requirements.txt
//! (cd examples/examples && ../../.venv/bin/celery -A celery_interop worker -Q py --pool=solo) &
//! cargo run -p taskq-examples --example celery_interop        # Rust worker + Rust client
//! (cd examples/examples && ../../.venv/bin/python celery_interop.py)   # Python client
//! ```
//!
//! `TASKQ_URL` defaults to `celery+redis://127.0.0.1:6379/0` here.

use std::time::Duration;

use taskq_celery::SendTask;

/// Python calls it as `app.signature("tasks.add", queue="rs").delay(2, 3)`; positional and
/// keyword arguments map onto `a` and `b`.
#[taskq::task(name = "tasks.add", queue = "rs")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    let url = std::env::var(taskq::URL_ENV)
        .unwrap_or_else(|_| "celery+redis://127.0.0.1:6379/0".to_owned());
    let client = taskq::Client::connect(&url).await?;
    let worker = taskq::Worker::builder()
        .client(client.clone())
        .queues(["rs"])
        .spawn()?;

    // A Python-only task, by name, with a typed result (needs the Python worker on "py").
    let product = SendTask::new("tasks.mul")
        .args((6, 7))?
        .queue("py")
        .send::<i64>(&client)
        .await?;
    match product.get_timeout(Duration::from_secs(5)).await {
        Ok(v) => println!("Python mul(6, 7) = {v}"),
        Err(e) => println!("no Python worker answered ({e}); start one to see this work"),
    }

    println!("serving tasks.add on queue `rs`; run celery_interop.py, Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    worker.shutdown().await?;
    Ok(())
}
