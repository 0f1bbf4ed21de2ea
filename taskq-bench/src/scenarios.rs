//! The scenarios, generic over the backend.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use taskq::{Client, Worker};

use crate::Options;

/// A boxed error: the harness reports and exits.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A no-op task: returns its argument.
#[taskq::task(queue = "bench")]
async fn noop(n: u64) -> u64 {
    n
}

/// Returns how long after `sent_ns` it started, in nanoseconds since the bench's epoch.
#[taskq::task(queue = "bench")]
async fn stamp(sent_ns: u64) -> u64 {
    now_ns().saturating_sub(sent_ns)
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn line(key: &str, value: impl std::fmt::Display) {
    println!("{key}: {value}");
}

fn per_s(n: usize, d: Duration) -> u64 {
    (n as f64 / d.as_secs_f64()).round() as u64
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The peak resident set size of this process, in MiB (Linux `VmHWM`).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn client_for(options: &Options) -> Result<Client, BoxError> {
    match options.backend.as_str() {
        "memory" => Ok(Client::memory()),
        "redis" => {
            let url = options
                .redis_url
                .clone()
                .unwrap_or_else(|| "redis://127.0.0.1:6379/0".to_owned());
            Ok(Client::connect(&url).await?)
        }
        other => Err(format!("unknown backend `{other}` (memory or redis)").into()),
    }
}

/// Runs the scenarios asked for and prints their figures.
pub async fn run(options: &Options) -> Result<(), BoxError> {
    epoch();
    line("backend", &options.backend);
    line("tasks", options.tasks);
    line(
        "allocator",
        if cfg!(feature = "mimalloc") {
            "mimalloc"
        } else {
            "system"
        },
    );
    line("worker_concurrency", options.concurrency);
    if options.wants("enqueue") {
        enqueue(options).await?;
    }
    if options.wants("e2e") || options.wants("latency") {
        let client = client_for(options).await?;
        // The worker gets a runtime (and so a core) of its own, as a worker process would; the
        // producer and the waiters run on the other.
        let worker_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let builder = Worker::builder()
            .client(client.clone())
            .queues(["bench"])
            .concurrency(options.concurrency);
        let worker = {
            let _guard = worker_rt.enter();
            builder.spawn()?
        };
        if options.wants("e2e") {
            end_to_end(&client, options.tasks).await?;
        }
        if options.wants("latency") {
            latency(&client, options.latency_samples).await?;
        }
        worker.shutdown().await?;
        worker_rt.shutdown_background();
    }
    line("peak_rss_mb", format!("{:.1}", peak_rss_mb()));
    Ok(())
}

/// Enqueue only, one `.delay()` at a time, then in batches of 1,000.
async fn enqueue(options: &Options) -> Result<(), BoxError> {
    let n = options.tasks;
    let client = client_for(options).await?;
    let started = Instant::now();
    for i in 0..n as u64 {
        noop::new(i)
            .queue("bench-enqueue")
            .ignore_result()
            .delay_on(&client)
            .await?;
    }
    line("enqueue_tasks_per_s", per_s(n, started.elapsed()));
    let started = Instant::now();
    let ids: Vec<u64> = (0..n as u64).collect();
    for chunk in ids.chunks(1_000) {
        client
            .send_many(
                chunk
                    .iter()
                    .map(|i| noop::new(*i).queue("bench-enqueue").ignore_result()),
            )
            .await?;
    }
    line("enqueue_batched_tasks_per_s", per_s(n, started.elapsed()));
    Ok(())
}

/// A producer and a worker together; every handle awaited and its value checked.
async fn end_to_end(client: &Client, n: usize) -> Result<(), BoxError> {
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let producer = {
        let client = client.clone();
        tokio::spawn(async move {
            for i in 0..n as u64 {
                let h = noop::new(i).delay_on(&client).await?;
                if tx.send((i, h)).await.is_err() {
                    break;
                }
            }
            Ok::<(), taskq::Error>(())
        })
    };
    let mut done = 0usize;
    while let Some((i, h)) = rx.recv().await {
        let got = h.get().await?;
        if got != i {
            return Err(format!("task {i} returned {got}").into());
        }
        done += 1;
    }
    producer.await??;
    let elapsed = started.elapsed();
    if done != n {
        return Err(format!("only {done} of {n} tasks completed").into());
    }
    line("end_to_end_tasks_per_s", per_s(n, elapsed));
    Ok(())
}

/// Latency from `.delay()` to the task starting, one task at a time with an idle worker.
async fn latency(client: &Client, samples: usize) -> Result<(), BoxError> {
    let mut got = Vec::with_capacity(samples);
    for _ in 0..samples {
        let h = stamp::new(now_ns()).delay_on(client).await?;
        got.push(h.get().await?);
    }
    got.sort_unstable();
    line(
        "latency_delay_to_start_p50_us",
        percentile(&got, 0.50) / 1_000,
    );
    line(
        "latency_delay_to_start_p99_us",
        percentile(&got, 0.99) / 1_000,
    );
    Ok(())
}
