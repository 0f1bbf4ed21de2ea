//! What Prometheus metrics cost end to end on the in-memory backend, where nothing else hides
//! it: ten pairs of runs, one with taskq's metrics off and one on, in one process. Printed: the
//! median rate of each (`metrics_off_end_to_end_tasks_per_s`,
//! `metrics_on_end_to_end_tasks_per_s`), the median over the pairs of the rate lost
//! (`metrics_cost_percent`: pairs cancel drifts in what else runs on the machine), and the
//! process's CPU per task (`..._cpu_us_per_task`, `metrics_cpu_cost_percent`).
//!
//! A first run before taskq's recorder is installed (`metrics_absent_...`) shows that a process
//! without metrics pays nothing; after it, "off" pauses the installed metrics
//! (`taskq::telemetry::set_metrics_enabled(false)`).

use std::time::Duration;

use taskq::{Client, Worker};

use crate::scenarios::{send_and_await, BoxError};
use crate::Options;

/// The no-op task of these runs, on a queue of its own.
#[taskq::task(name = "bench.metrics_noop", queue = "bench-metrics")]
async fn metrics_noop(n: u64) -> u64 {
    n
}

/// Pairs of runs (one with metrics off, one on).
const ROUNDS: usize = 10;

fn line(key: &str, value: impl std::fmt::Display) {
    println!("{key}: {value}");
}

/// This process's CPU time so far (user + system, every thread), in seconds, from
/// `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // After the command name in parentheses: state is field 3, utime 14, stime 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// What one run measured.
#[derive(Clone, Copy)]
struct Round {
    tasks_per_s: u64,
    /// CPU of the whole process (producer, worker, runtimes) per task: what metrics add,
    /// less blurred than the rate by other work on the machine.
    cpu_us_per_task: f64,
}

/// One end-to-end run on a fresh in-memory backend, the worker on a runtime (a core) of its
/// own.
async fn round(options: &Options) -> Result<Round, BoxError> {
    let client = Client::memory();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let worker = {
        let _guard = runtime.enter();
        Worker::builder()
            .client(client.clone())
            .queues(["bench-metrics"])
            .concurrency(options.concurrency)
            .spawn()?
    };
    let cpu = cpu_seconds();
    let elapsed = send_and_await(
        &client,
        options.tasks,
        options.window,
        Duration::from_secs(120),
        metrics_noop::new,
    )
    .await?;
    let cpu = cpu_seconds() - cpu;
    worker.shutdown().await?;
    runtime.shutdown_background();
    Ok(Round {
        tasks_per_s: (options.tasks as f64 / elapsed.as_secs_f64()).round() as u64,
        cpu_us_per_task: cpu * 1e6 / options.tasks as f64,
    })
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn print(prefix: &str, runs: &[Round]) -> (f64, f64) {
    let rate = median(runs.iter().map(|r| r.tasks_per_s).collect());
    let cpu = median(runs.iter().map(|r| r.cpu_us_per_task).collect());
    line(&format!("{prefix}_end_to_end_tasks_per_s"), rate);
    line(&format!("{prefix}_cpu_us_per_task"), format!("{cpu:.2}"));
    (rate as f64, cpu)
}

/// Runs the comparison and prints its figures.
pub async fn run(options: &Options) -> Result<(), BoxError> {
    if taskq::telemetry::metrics_enabled() {
        return Err("taskq's metrics are on already: the baseline would not be one".into());
    }
    print("metrics_absent", &[round(options).await?]);
    let metrics = taskq::telemetry::install_prometheus()?;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let mut ratios = Vec::new();
    // Pairs, in alternating order (off-on, on-off, ...), so that a drift in what else runs on
    // the machine falls on both sides.
    for pair in 0..ROUNDS {
        let mut rates = [0.0f64; 2];
        let order = if pair % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for enabled in order {
            taskq::telemetry::set_metrics_enabled(enabled);
            let r = round(options).await?;
            rates[usize::from(enabled)] = r.tasks_per_s as f64;
            if enabled { &mut on } else { &mut off }.push(r);
        }
        ratios.push(rates[1] / rates[0].max(1.0));
    }
    // The "on" runs were counted, and only they.
    let text = metrics.render();
    let want = format!(
        "taskq_tasks_completed_total{{task=\"bench.metrics_noop\",queue=\"bench-metrics\",status=\"succeeded\"}} {}",
        options.tasks * ROUNDS
    );
    if !text.lines().any(|l| l == want) {
        return Err(
            format!("the metrics do not count the runs with metrics on: no `{want}`").into(),
        );
    }
    let (off_rate, off_cpu) = print("metrics_off", &off);
    let (on_rate, on_cpu) = print("metrics_on", &on);
    let _ = (off_rate, on_rate);
    // The median, over the pairs, of what turning metrics on took from the rate.
    line(
        "metrics_cost_percent",
        format!("{:.1}", (1.0 - median(ratios)) * 100.0),
    );
    line(
        "metrics_cpu_cost_percent",
        format!("{:.1}", (on_cpu - off_cpu) / off_cpu.max(1e-9) * 100.0),
    );
    Ok(())
}
