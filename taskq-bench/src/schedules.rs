//! `taskq-bench --schedules`: how soon a schedule's tick starts running after its nominal
//! instant, on a private Redis with an idle worker in this process (target: 10 ms at p99), and
//! whether every tick ran once.
//!
//! The schedule ticks every `--schedule-every-ms` (default 100 ms) for `--schedule-seconds`
//! (default 20 s). Each run records its start time in microseconds; its tick's nominal instant
//! comes from its id (`taskq::schedule::tick_id` of the schedule and the instant), so nothing
//! is read back from the message. Ticks before the measured window (the first second, when
//! the scheduler catches up with the latest missed one) are left out.
//!
//! Then a rate-limited task (`rate_limit = "500/s"`): 2,500 sent at once to a worker of
//! concurrency 16, and the rate its starts keep (first to last) against the limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use taskq::{Client, Context, TaskId, Timestamp, Worker};
use taskq_redis::testing::RedisServer;

use crate::Options;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The schedule's id.
const SCHEDULE: &str = "bench.ticks";

/// When each tick's run started: (task id, microseconds since the epoch).
static STARTS: Mutex<Vec<(TaskId, u64)>> = Mutex::new(Vec::new());

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The scheduled task: notes when it started, and nothing else.
#[taskq::task(name = "bench.tick", queue = "bench_ticks", ignore_result)]
async fn tick(ctx: Context) {
    let now = unix_us();
    if let Ok(mut starts) = STARTS.lock() {
        starts.push((ctx.id(), now));
    }
}

/// The limit of the rate-limited scenario, per second (as in `limited`'s attribute).
const RATE_LIMIT_PER_S: u64 = 500;

/// When each rate-limited run started, in microseconds since the epoch.
static LIMITED_STARTS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// The rate-limited task: notes when it started.
#[taskq::task(
    name = "bench.limited",
    queue = "bench_limited",
    rate_limit = "500/s",
    ignore_result
)]
async fn limited(n: u64) -> u64 {
    if let Ok(mut starts) = LIMITED_STARTS.lock() {
        starts.push(unix_us());
    }
    n
}

fn line(key: &str, value: impl std::fmt::Display) {
    println!("{key}: {value}");
}

/// Runs the tick-to-start scenario.
pub async fn run(options: &Options) -> Result<(), BoxError> {
    let (url, _server) = match options.redis_url.clone() {
        Some(url) => (url, None),
        None => {
            let server = RedisServer::start();
            (server.url(), Some(server))
        }
    };
    ticks(
        url.clone(),
        options.schedule_every_ms,
        options.schedule_seconds,
    )
    .await?;
    rate_limited(url).await
}

/// Sends 2,500 tasks limited to 500/s at once and measures the rate their starts keep.
async fn rate_limited(url: String) -> Result<(), BoxError> {
    let n: u64 = 2_500;
    let client = Client::connect(&url).await?;
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["bench_limited"])
        .concurrency(16)
        .scheduler(false)
        .spawn()?;
    client.send_many((0..n).map(limited::new)).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = LIMITED_STARTS.lock().map(|s| s.len()).unwrap_or(0);
        if done as u64 >= n || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.shutdown().await?;
    let mut starts = LIMITED_STARTS.lock().map(|s| s.clone()).unwrap_or_default();
    starts.sort_unstable();
    if (starts.len() as u64) < n {
        return Err(format!(
            "only {} of {n} rate-limited tasks ran in 60 s",
            starts.len()
        )
        .into());
    }
    let span_s = (starts[starts.len() - 1] - starts[0]) as f64 / 1e6;
    let rate = (starts.len() - 1) as f64 / span_s;
    line("rate_limit_per_s", RATE_LIMIT_PER_S);
    line("rate_limited_tasks", starts.len());
    line("rate_limited_tasks_per_s", format!("{rate:.1}"));
    line(
        "rate_limited_error_pct",
        format!("{:+.2}", (rate / RATE_LIMIT_PER_S as f64 - 1.0) * 100.0),
    );
    Ok(())
}

async fn ticks(url: String, step: u64, seconds: f64) -> Result<(), BoxError> {
    let every = Duration::from_millis(step);
    let measured = Duration::from_secs_f64(seconds);
    let client = Client::connect(&url).await?;
    let spec = taskq::Schedule::every_duration(every)?
        .id(SCHEDULE)?
        .run(tick::new())?;
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["bench_ticks"])
        .concurrency(4)
        .schedule(spec)
        .spawn()?;

    // The window: from one second after start (the scheduler has stored the schedule and
    // caught up) to the end of the measured time, on whole ticks.
    let now_ms = Timestamp::now().0;
    let first = (now_ms + 1_000).div_ceil(step) * step;
    let last = first + u64::try_from(measured.as_millis()).unwrap_or(u64::MAX);
    let nominal_of: HashMap<TaskId, u64> = (first..last)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .map(|n| (taskq::schedule::tick_id(SCHEDULE, Timestamp(n)), n))
        .collect();
    let expected = nominal_of.len();

    // Until the last tick of the window is due, and a second more for it to run.
    let until_ms = last + 1_000;
    tokio::time::sleep(Duration::from_millis(
        until_ms.saturating_sub(Timestamp::now().0),
    ))
    .await;
    client.delete_schedule(SCHEDULE).await?;
    worker.shutdown().await?;

    let starts = STARTS.lock().map(|s| s.clone()).unwrap_or_default();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut runs: HashMap<TaskId, usize> = HashMap::new();
    for (id, started_us) in &starts {
        let Some(nominal_ms) = nominal_of.get(id) else {
            continue;
        };
        *runs.entry(*id).or_default() += 1;
        let late_us = started_us.saturating_sub(nominal_ms * 1_000);
        hist.record(late_us.max(1))?;
    }
    let twice = runs.values().filter(|n| **n > 1).count();

    line("backend", "redis");
    line("schedule_every_ms", step);
    line("schedule_ticks_expected", expected);
    line("schedule_ticks_run", runs.len());
    line("schedule_ticks_run_twice", twice);
    line(
        "schedule_tick_to_start_p50_us",
        hist.value_at_quantile(0.50),
    );
    line(
        "schedule_tick_to_start_p99_us",
        hist.value_at_quantile(0.99),
    );
    line("schedule_tick_to_start_max_us", hist.max());
    line("schedule_tick_to_start_target_p99_us", 10_000);
    if runs.len() != expected || twice > 0 {
        return Err(format!(
            "{} of {expected} ticks ran, {twice} of them twice: every tick must run once",
            runs.len()
        )
        .into());
    }
    Ok(())
}
