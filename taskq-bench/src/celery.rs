//! `--backend celery-redis`: a Rust worker serving Celery-format messages (protocol 2, kombu's
//! Redis transport, Celery's result backend) next to a Python Celery worker on the same Redis
//! and the same messages, in one run.
//!
//! Both runs measure the same thing: the worker is started and idle; the clock starts; one
//! producer pushes the no-op messages (`tasks.noop`, built exactly as Celery's `send_task`
//! builds them) in pipelined batches; the clock stops when every task's
//! `celery-task-meta-<id>` result is stored. Completion is seen by counting keys (`DBSIZE`,
//! every 5 ms), the same way for both workers.

use std::time::{Duration, Instant};

use taskq::{BoxError, Worker};
use taskq_celery::protocol;
use taskq_celery::testing::{python, PythonWorker};
use taskq_redis::testing::RedisServer;

use crate::Options;

/// The no-op task the Rust worker serves (the Python worker has its own `tasks.noop`).
#[taskq::task(name = "tasks.noop", queue = "celerybench")]
async fn noop(n: u64) -> u64 {
    n
}

const QUEUE: &str = "celerybench";

fn line(key: &str, value: impl std::fmt::Display) {
    println!("{key}: {value}");
}

/// Runs both workers and prints `end_to_end_tasks_per_s` (Rust) and
/// `python_celery_end_to_end_tasks_per_s`.
pub async fn run(options: &Options) -> Result<(), BoxError> {
    let server;
    let redis_url = match &options.redis_url {
        Some(u) => u.clone(),
        None => {
            server = RedisServer::start();
            server.url()
        }
    };
    let celery_url = redis_url.replacen("redis://", "celery+redis://", 1);
    // The venv first (it may be created now), outside the timed part.
    tokio::task::spawn_blocking(python).await?;

    let n_rust = options.tasks.min(50_000);
    let n_python = options.tasks.min(5_000);
    line("backend", "celery-redis");
    line("worker_concurrency", options.concurrency);

    let redis = redis::Client::open(redis_url.as_str())?;
    let mut conn = redis.get_multiplexed_async_connection().await?;

    // Rust worker, on a runtime of its own (a core, as a worker process would have).
    let client = taskq::Client::connect(&celery_url).await?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let handle = {
        let _guard = runtime.enter();
        Worker::builder()
            .client(client.clone())
            .queues([QUEUE])
            .concurrency(options.concurrency)
            .spawn()?
    };
    let rust = timed(&mut conn, n_rust).await?;
    handle.shutdown().await?;
    runtime.shutdown_background();
    line("tasks", n_rust);
    line(
        "end_to_end_tasks_per_s",
        format!("{:.0}", n_rust as f64 / rust.as_secs_f64()),
    );

    // Python worker: Celery's defaults (prefork, one process per core, prefetch 4).
    let cores = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .to_string();
    let url = redis_url.clone();
    let py = tokio::task::spawn_blocking(move || {
        PythonWorker::start_with(
            &url,
            QUEUE,
            &["--pool=prefork", "-c", &cores],
            &[("CELERY_PREFETCH", "4")],
        )
    })
    .await?;
    let python_time = timed(&mut conn, n_python).await?;
    drop(py);
    line("python_celery_tasks", n_python);
    line(
        "python_celery_end_to_end_tasks_per_s",
        format!("{:.0}", n_python as f64 / python_time.as_secs_f64()),
    );
    Ok(())
}

/// Pushes `n` Celery messages and waits for their `n` results; returns the time taken.
async fn timed(
    conn: &mut redis::aio::MultiplexedConnection,
    n: usize,
) -> Result<Duration, BoxError> {
    let () = redis::cmd("FLUSHDB").query_async(conn).await?;
    let mut messages = Vec::with_capacity(n);
    for i in 0..n as u64 {
        messages.push(protocol::call("tasks.noop", QUEUE, (i,))?.to_json()?);
    }
    let started = Instant::now();
    for chunk in messages.chunks(1_000) {
        let mut pipe = redis::pipe();
        for m in chunk {
            pipe.lpush(QUEUE, m).ignore();
        }
        let () = pipe.query_async(conn).await?;
    }
    let deadline = started + Duration::from_secs(600);
    loop {
        // Cheap: every key but the queue and kombu's bookkeeping is a result (a key or two of
        // kombu's bindings may count too, so the exact count is checked before stopping).
        let mut pipe = redis::pipe();
        pipe.cmd("DBSIZE")
            .exists(QUEUE)
            .exists("unacked")
            .exists("unacked_index")
            .exists("unacked_mutex");
        let (keys, a, b, c, d): (usize, usize, usize, usize, usize) =
            pipe.query_async(conn).await?;
        let approx = keys.saturating_sub(a + b + c + d);
        if approx >= n && count_results(conn).await? >= n {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            return Err(format!("only about {approx} of {n} results after 10 minutes").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The exact number of stored results (a SCAN: once, at the end).
async fn count_results(conn: &mut redis::aio::MultiplexedConnection) -> Result<usize, BoxError> {
    let mut cursor = 0u64;
    let mut count = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("celery-task-meta-*")
            .arg("COUNT")
            .arg(10_000)
            .query_async(conn)
            .await?;
        count += keys.len();
        if next == 0 {
            return Ok(count);
        }
        cursor = next;
    }
}
