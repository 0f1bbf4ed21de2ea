//! `taskq-bench --schedules`: how soon a schedule's tick starts running after its nominal
//! instant, on a private Redis with an idle worker in this process (target: 10 ms at p99), and
//! whether every tick ran once.
//!
//! The schedule ticks every `--schedule-every-ms` (default 100 ms) for `--schedule-seconds`
//! (default 20 s). Each run records its start time in microseconds; its tick's nominal instant
//! comes from its id (`taskq::schedule::tick_id` of the schedule and the instant), so nothing
//! is read back from the message. Ticks before the measured window (the first second, when
//! the scheduler catches up with the latest missed one) are left out.

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

fn line(key: &str, value: impl std::fmt::Display) {
    println!("{key}: {value}");
}

/// Runs the tick-to-start scenario.
pub async fn run(options: &Options) -> Result<(), BoxError> {
    ticks(
        options.redis_url.clone(),
        options.schedule_every_ms,
        options.schedule_seconds,
    )
    .await
}

async fn ticks(redis_url: Option<String>, step: u64, seconds: f64) -> Result<(), BoxError> {
    let (url, _server) = match redis_url {
        Some(url) => (url, None),
        None => {
            let server = RedisServer::start();
            (server.url(), Some(server))
        }
    };
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
