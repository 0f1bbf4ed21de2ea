//! The scenarios, generic over the backend.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use taskq::{AsyncResult, Call, Client, Task, Worker, WorkerHandle};
use taskq_redis::testing::RedisServer;

use crate::Options;

/// A boxed error: the harness reports and exits.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A no-op task: returns its argument.
#[taskq::task(name = "bench.noop", queue = "bench")]
async fn noop(n: u64) -> u64 {
    n
}

/// Returns how long after `sent_ns` it started (wall clock, nanoseconds since the epoch, so it
/// also holds across processes).
#[taskq::task(name = "bench.stamp", queue = "bench")]
async fn stamp(sent_ns: u64) -> u64 {
    wall_ns().saturating_sub(sent_ns)
}

/// Returns when it finished (wall clock, nanoseconds since the epoch).
#[taskq::task(name = "bench.finish_time", queue = "bench")]
async fn finish_time() -> u64 {
    wall_ns()
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
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

/// Where the tasks go: the in-memory backend, or a Redis server (a private one started for the
/// run unless `--redis-url` names one).
struct Target {
    backend: String,
    url: Option<String>,
    _server: Option<RedisServer>,
    /// SQLite: the database file, in a fresh directory removed after the run.
    _file: Option<taskq_sqlite::testing::TempDb>,
    memory: Option<Client>,
}

impl Target {
    fn new(options: &Options) -> Result<Self, BoxError> {
        match options.backend.as_str() {
            "memory" => Ok(Self {
                backend: "memory".into(),
                url: None,
                _server: None,
                _file: None,
                memory: None,
            }),
            "sqlite" => {
                let file = taskq_sqlite::testing::TempDb::new()?;
                // `TASKQ_BENCH_SQLITE=synchronous=normal` (any URL parameters) to try settings.
                let url = match std::env::var("TASKQ_BENCH_SQLITE") {
                    Ok(params) if !params.is_empty() => format!("{}?{params}", file.url()),
                    _ => file.url(),
                };
                Ok(Self {
                    backend: "sqlite".into(),
                    url: Some(url),
                    _server: None,
                    _file: Some(file),
                    memory: None,
                })
            }
            "redis" => {
                let (url, server) = match &options.redis_url {
                    Some(url) => (url.clone(), None),
                    None => {
                        let server = RedisServer::start();
                        (server.url(), Some(server))
                    }
                };
                Ok(Self {
                    backend: "redis".into(),
                    url: Some(url),
                    _server: server,
                    _file: None,
                    memory: None,
                })
            }
            other => Err(format!("unknown backend `{other}` (memory, redis or sqlite)").into()),
        }
    }

    /// A client; for memory, every call returns a client of the same backend.
    async fn client(&mut self) -> Result<Client, BoxError> {
        match &self.url {
            Some(url) => Ok(Client::connect(url).await?),
            None => Ok(self.memory.get_or_insert_with(Client::memory).clone()),
        }
    }

    /// A fresh, empty backend for the next scenario (memory) or the same server (Redis: the
    /// scenarios leave its queues empty).
    fn reset(&mut self) {
        self.memory = None;
    }

    async fn redis(&self) -> Result<Option<redis::aio::MultiplexedConnection>, BoxError> {
        match &self.url {
            Some(url) if url.starts_with("redis") => {
                let client = redis::Client::open(url.as_str())?;
                Ok(Some(client.get_multiplexed_async_connection().await?))
            }
            _ => Ok(None),
        }
    }
}

/// The worker, on a runtime (and so a core) of its own, as a worker process would have.
struct BenchWorker {
    handle: WorkerHandle,
    runtime: tokio::runtime::Runtime,
}

impl BenchWorker {
    fn start(client: &Client, concurrency: usize) -> Result<Self, BoxError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        // `TASKQ_PREFETCH` from the environment, if set, for trying settings.
        let builder = Worker::builder()
            .from_env()?
            .client(client.clone())
            .queues(["bench"])
            .concurrency(concurrency);
        let handle = {
            let _guard = runtime.enter();
            builder.spawn()?
        };
        Ok(Self { handle, runtime })
    }

    async fn stop(self) -> Result<(), BoxError> {
        self.handle.shutdown().await?;
        self.runtime.shutdown_background();
        Ok(())
    }
}

/// Runs the scenarios asked for and prints their figures.
pub async fn run(options: &Options) -> Result<(), BoxError> {
    let mut target = Target::new(options)?;
    line("backend", &target.backend);
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
    if let Some(w) = &options.workflow {
        workflow(&mut target, options, w).await?;
        line("peak_rss_mb", format!("{:.1}", peak_rss_mb()));
        return Ok(());
    }
    line("producer_window", options.window);
    if options.prefill > 0 {
        prefill(&mut target, options.prefill).await?;
    }
    if options.wants("enqueue") || options.wants("enqueue_batched") {
        enqueue(&mut target, options).await?;
        target.reset();
    }
    if options.wants("process") {
        process(&mut target, options).await?;
        target.reset();
    }
    if options.wants("e2e") || options.wants("latency") {
        let client = target.client().await?;
        let worker = BenchWorker::start(&client, options.concurrency)?;
        if options.wants("e2e") {
            let conn = target.redis().await?;
            // On Redis, the event log's cost: runs with events off and on, alternating, three
            // of each in the same process against the same server; the median of each (figures
            // with events on start with `events_on_`). `TASKQ_BENCH_EVENTS=on` (or `off`) runs
            // only those, for profiling one side.
            let only = std::env::var("TASKQ_BENCH_EVENTS").ok();
            let rounds: Vec<Option<bool>> = if conn.is_some() {
                match only.as_deref() {
                    Some("on") => vec![Some(true); 3],
                    Some("off") => vec![Some(false); 3],
                    _ => [Some(false), Some(true)].repeat(3),
                }
            } else {
                vec![None]
            };
            let mut off = Vec::new();
            let mut on = Vec::new();
            for events in rounds {
                if let Some(enabled) = events {
                    taskq::events::set_enabled(enabled);
                }
                let figures = e2e_round(&client, conn.as_ref(), options).await?;
                if events == Some(true) {
                    on.push(figures);
                } else {
                    off.push(figures);
                }
            }
            E2e::print_median("", off);
            E2e::print_median("events_on_", on);
            if conn.is_some() {
                taskq::events::set_enabled(true);
            }
        }
        if options.wants("latency") {
            latency(&client, options.latency_samples).await?;
        }
        worker.stop().await?;
    }
    line("peak_rss_mb", format!("{:.1}", peak_rss_mb()));
    Ok(())
}

/// What one end-to-end run measured: its rate and, on Redis, what it cost the server.
#[derive(Clone, Copy, Default)]
struct E2e {
    tasks_per_s: u64,
    /// This process's CPU time (producer, worker and their runtimes) per task, in µs.
    bench_cpu_us_per_task: f64,
    redis: Option<RedisCost>,
}

#[derive(Clone, Copy, Default)]
struct RedisCost {
    script_calls_per_task: f64,
    commands_per_task: f64,
    cpu_us_per_task: f64,
    cpu_us_per_set: f64,
}

impl E2e {
    /// Prints the median of each figure of `runs`, each key starting with `prefix`.
    fn print_median(prefix: &str, runs: Vec<E2e>) {
        fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> Option<T> {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            v.get(v.len() / 2).copied()
        }
        let key = |k: &str| format!("{prefix}{k}");
        if let Some(r) = median(runs.iter().map(|r| r.tasks_per_s).collect()) {
            line(&key("end_to_end_tasks_per_s"), r);
        }
        if let Some(c) = median(runs.iter().map(|r| r.bench_cpu_us_per_task).collect()) {
            line(&key("bench_cpu_us_per_task"), format!("{c:.2}"));
        }
        let costs: Vec<RedisCost> = runs.iter().filter_map(|r| r.redis).collect();
        if costs.is_empty() {
            return;
        }
        let m = |f: fn(&RedisCost) -> f64| median(costs.iter().map(f).collect()).unwrap_or(0.0);
        line(
            &key("redis_script_calls_per_task"),
            format!("{:.3}", m(|c| c.script_calls_per_task)),
        );
        line(
            &key("redis_commands_per_task"),
            format!("{:.2}", m(|c| c.commands_per_task)),
        );
        line(
            &key("redis_cpu_us_per_task"),
            format!("{:.2}", m(|c| c.cpu_us_per_task)),
        );
        line(
            &key("redis_cpu_us_per_set"),
            format!("{:.3}", m(|c| c.cpu_us_per_set)),
        );
        line(
            &key("redis_set_equivalents_per_task"),
            format!("{:.1}", m(|c| c.cpu_us_per_task / c.cpu_us_per_set)),
        );
    }
}

/// One end-to-end run and, on Redis, what it cost the server (and a `SET`, measured right
/// after, on the same server).
async fn e2e_round(
    client: &Client,
    conn: Option<&redis::aio::MultiplexedConnection>,
    options: &Options,
) -> Result<E2e, BoxError> {
    let stats = std::env::var_os("TASKQ_BENCH_COMMANDSTATS").is_some();
    if let Some(c) = conn {
        // Every round starts from the same state: the results of earlier rounds (200,000 a
        // round, kept for a day) would make each round's hash bigger than the one before, and
        // so each `events on` round dearer than the `off` round before it (growth and rehash
        // of the results hash, and its cache misses). Key layout: see taskq-redis's lib.rs.
        let () = redis::cmd("DEL")
            .arg("{taskq:bench}:results")
            .arg("{taskq:bench}:expiry")
            .query_async(&mut c.clone())
            .await?;
    }
    let mut cpu_split = (0.0, 0.0);
    if let (Some(c), true) = (conn, stats) {
        let () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut c.clone())
            .await?;
        cpu_split = server_cpu_split(c.clone()).await?;
    }
    let before = match conn {
        Some(c) => Some((
            server_cpu_us(c.clone()).await?,
            server_calls(c.clone()).await?,
        )),
        None => None,
    };
    let cpu_before = process_cpu_us();
    let tasks_per_s = end_to_end(client, options.tasks, options.window).await?;
    let mut figures = E2e {
        tasks_per_s,
        bench_cpu_us_per_task: (process_cpu_us() - cpu_before) / options.tasks as f64,
        redis: None,
    };
    if let (Some(c), Some((before, calls_before))) = (conn, before) {
        let task_cpu = (server_cpu_us(c.clone()).await? - before) / options.tasks as f64;
        let calls = server_calls(c.clone()).await?;
        let per_task = |name: &str| {
            let after = calls.get(name).copied().unwrap_or(0);
            let prior = calls_before.get(name).copied().unwrap_or(0);
            after.saturating_sub(prior) as f64 / options.tasks as f64
        };
        if stats {
            let (sys, user) = server_cpu_split(c.clone()).await?;
            eprintln!(
                "server sys {:.2} us/task, user {:.2} us/task",
                (sys - cpu_split.0) / options.tasks as f64,
                (user - cpu_split.1) / options.tasks as f64
            );
            command_breakdown(c.clone(), options.tasks).await?;
        }
        figures.redis = Some(RedisCost {
            script_calls_per_task: per_task("evalsha"),
            commands_per_task: calls.keys().map(|k| per_task(k)).sum::<f64>(),
            cpu_us_per_task: task_cpu,
            cpu_us_per_set: set_cost_us(c.clone(), options.tasks.max(50_000)).await?,
        });
    }
    Ok(figures)
}

/// Fills the backend with tasks that stay there during the run: half delayed by an hour on the
/// served queue, half ready on a queue nobody serves. Shows that cost does not grow with
/// queue length.
async fn prefill(target: &mut Target, n: usize) -> Result<(), BoxError> {
    let client = target.client().await?;
    let started = Instant::now();
    let ids: Vec<u64> = (0..n as u64).collect();
    for chunk in ids.chunks(5_000) {
        client
            .send_many(chunk.iter().map(|i| {
                let call = noop::new(*i).ignore_result();
                if i % 2 == 0 {
                    call.countdown(Duration::from_secs(3600))
                } else {
                    call.queue("bench-idle")
                }
            }))
            .await?;
    }
    line("prefill", n);
    line(
        "prefill_seconds",
        format!("{:.1}", started.elapsed().as_secs_f64()),
    );
    Ok(())
}

/// Enqueue only: one `.delay()` at a time (scenario `enqueue`), then in batches of 1,000
/// (`enqueue` or `enqueue_batched`).
async fn enqueue(target: &mut Target, options: &Options) -> Result<(), BoxError> {
    let n = options.tasks;
    let client = target.client().await?;
    if options.wants("enqueue") {
        let started = Instant::now();
        for i in 0..n as u64 {
            noop::new(i)
                .queue("bench-enqueue")
                .ignore_result()
                .delay_on(&client)
                .await?;
        }
        line("enqueue_tasks_per_s", per_s(n, started.elapsed()));
    }
    let started = Instant::now();
    send_batched(&client, n, |i| {
        noop::new(i).queue("bench-enqueue").ignore_result()
    })
    .await?;
    line("enqueue_batched_tasks_per_s", per_s(n, started.elapsed()));
    // The tasks stay on `bench-enqueue`, which no worker serves.
    Ok(())
}

/// A queue of N tasks filled first, then drained by one worker that stores every result.
/// Sends tasks `make(0)` .. `make(n - 1)` with `send_many`, 1,000 (one round trip) at a time;
/// their handles in order.
pub async fn send_batched<T: Task>(
    client: &Client,
    n: usize,
    make: impl Fn(u64) -> Call<T>,
) -> Result<Vec<AsyncResult<T::Output>>, taskq::Error> {
    let ids: Vec<u64> = (0..n as u64).collect();
    let mut handles = Vec::with_capacity(n);
    for chunk in ids.chunks(1_000) {
        handles.extend(client.send_many(chunk.iter().map(|i| make(*i))).await?);
    }
    Ok(handles)
}

async fn process(target: &mut Target, options: &Options) -> Result<(), BoxError> {
    let n = options.tasks;
    let client = target.client().await?;
    let handles = send_batched(&client, n, noop::new).await?;
    let started = Instant::now();
    let worker = BenchWorker::start(&client, options.concurrency)?;
    for (i, h) in handles.into_iter().enumerate() {
        let got = h.get_timeout(Duration::from_secs(120)).await?;
        if got != i as u64 {
            return Err(format!("task {i} returned {got}").into());
        }
    }
    line("process_tasks_per_s", per_s(n, started.elapsed()));
    worker.stop().await?;
    Ok(())
}

/// A producer and a worker together; every handle awaited and its value checked; the rate. The producer
/// keeps up to `window` `.delay()` calls in flight (a service sending tasks from many requests
/// at once), in order.
async fn end_to_end(client: &Client, n: usize, window: usize) -> Result<u64, BoxError> {
    let elapsed = send_and_await(client, n, window, Duration::from_secs(120), noop::new).await?;
    Ok(per_s(n, elapsed))
}

/// Sends `make(0)` .. `make(n - 1)` with up to `window` `.delay()` calls in flight, in order,
/// while awaiting every handle (each must return its index); the time from the first send to
/// the last result.
pub async fn send_and_await<T: Task<Output = u64>>(
    client: &Client,
    n: usize,
    window: usize,
    wait: Duration,
    make: fn(u64) -> Call<T>,
) -> Result<Duration, BoxError> {
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let producer = {
        let client = client.clone();
        tokio::spawn(async move {
            if window <= 1 {
                // One send at a time: no stream machinery in the way of a backend whose sends
                // never wait (memory).
                for i in 0..n as u64 {
                    let h = make(i).delay_on(&client).await?;
                    if tx.send((i, h)).await.is_err() {
                        break;
                    }
                }
                return Ok::<(), taskq::Error>(());
            }
            let mut sends = futures_util::stream::iter(0..n as u64)
                .map(|i| {
                    let client = client.clone();
                    async move { make(i).delay_on(&client).await.map(|h| (i, h)) }
                })
                .buffered(window);
            while let Some(sent) = sends.next().await {
                if tx.send(sent?).await.is_err() {
                    break;
                }
            }
            Ok(())
        })
    };
    let mut done = 0usize;
    while let Some((i, h)) = rx.recv().await {
        let got = h.get_timeout(wait).await?;
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
    Ok(elapsed)
}

/// Latency from `.delay()` to the task starting, and from the task's end to its waiter waking,
/// one task at a time with an idle worker.
async fn latency(client: &Client, samples: usize) -> Result<(), BoxError> {
    let mut start = Vec::with_capacity(samples);
    let mut wake = Vec::with_capacity(samples);
    for _ in 0..samples {
        let h = stamp::new(wall_ns()).delay_on(client).await?;
        start.push(h.get().await?);
        let h = finish_time::new().delay_on(client).await?;
        let finished = h.get().await?;
        wake.push(wall_ns().saturating_sub(finished));
    }
    start.sort_unstable();
    wake.sort_unstable();
    line(
        "latency_delay_to_start_p50_us",
        percentile(&start, 0.50) / 1_000,
    );
    line(
        "latency_delay_to_start_p99_us",
        percentile(&start, 0.99) / 1_000,
    );
    line(
        "latency_complete_to_wake_p50_us",
        percentile(&wake, 0.50) / 1_000,
    );
    line(
        "latency_complete_to_wake_p99_us",
        percentile(&wake, 0.99) / 1_000,
    );
    Ok(())
}

/// This process's CPU time so far (user + system, every thread), in microseconds, from
/// `/proc/self/stat` (clock ticks of 10 ms: fine for runs of seconds); 0 where it is missing.
fn process_cpu_us() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces):
            // utime and stime are the 12th and 13th.
            let rest = &s[s.rfind(')')? + 1..];
            let mut f = rest.split_whitespace().skip(11);
            let utime: f64 = f.next()?.parse().ok()?;
            let stime: f64 = f.next()?.parse().ok()?;
            Some((utime + stime) * 10_000.0)
        })
        .unwrap_or(0.0)
}

/// The server's own CPU time so far (user + system), in microseconds, from `INFO cpu`.
async fn server_cpu_us(mut conn: redis::aio::MultiplexedConnection) -> Result<f64, BoxError> {
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await?;
    let seconds: f64 = info
        .lines()
        .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum();
    Ok(seconds * 1e6)
}

/// Calls per command so far, from `INFO commandstats` (calls made inside scripts included).
async fn server_calls(
    mut conn: redis::aio::MultiplexedConnection,
) -> Result<std::collections::HashMap<String, u64>, BoxError> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await?;
    Ok(taskq_redis::testing::command_stats(&info)
        .into_iter()
        .map(|c| (c.name, c.calls))
        .collect())
}

/// With `TASKQ_BENCH_COMMANDSTATS` set: the server's user and system CPU and each command's
/// own time (scripts include the commands they call), per task, since the last `RESETSTAT`.
async fn command_breakdown(
    mut conn: redis::aio::MultiplexedConnection,
    tasks: usize,
) -> Result<(), BoxError> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await?;
    let mut rows: Vec<(String, f64, f64)> = taskq_redis::testing::command_stats(&info)
        .into_iter()
        .map(|c| {
            (
                c.name,
                c.calls as f64 / tasks as f64,
                c.usec as f64 / tasks as f64,
            )
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    for (name, calls, us) in rows {
        eprintln!("  {name:<16} {calls:>8.3} calls/task {us:>7.2} us/task");
    }
    Ok(())
}

/// The server's system and user CPU time so far, in microseconds.
async fn server_cpu_split(
    mut conn: redis::aio::MultiplexedConnection,
) -> Result<(f64, f64), BoxError> {
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await?;
    let get = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            * 1e6
    };
    Ok((get("used_cpu_sys:"), get("used_cpu_user:")))
}

/// The server CPU one plain `SET` costs, pipelined 16 deep, measured now (same server, same
/// run).
async fn set_cost_us(conn: redis::aio::MultiplexedConnection, n: usize) -> Result<f64, BoxError> {
    let before = server_cpu_us(conn.clone()).await?;
    let batches = n.div_ceil(16);
    pipelined_sets(&conn, batches * 16, "bench:set").await?;
    let spent = server_cpu_us(conn).await? - before;
    Ok(spent / (batches * 16) as f64)
}

/// Workflow scenarios: the latency of a chain of ten no-op steps, one at a time, and the time a
/// chord of 1,000 members takes from start to its callback's result.
async fn workflow(target: &mut Target, options: &Options, which: &str) -> Result<(), BoxError> {
    use taskq::canvas::{chord, group, sequence};

    let client = target.client().await?;
    let worker = BenchWorker::start(&client, options.concurrency)?;
    match which {
        "chain10" => {
            let rounds = options.latency_samples.clamp(10, 2_000);
            let mut samples = Vec::with_capacity(rounds);
            for i in 0..rounds as u64 {
                let started = Instant::now();
                let steps = (0..9).map(|_| noop::partial()).collect();
                let h = noop::new(i).then(sequence(steps)).delay_on(&client).await?;
                let got = h.get_timeout(Duration::from_secs(60)).await?;
                if got != i {
                    return Err(format!("chain10 returned {got}, want {i}").into());
                }
                samples.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            samples.sort_unstable();
            line("chain10_runs", rounds);
            line("chain10_latency_p50_us", percentile(&samples, 0.50));
            line("chain10_latency_p99_us", percentile(&samples, 0.99));
        }
        _ => {
            let mut runs = Vec::new();
            for _ in 0..3 {
                let started = Instant::now();
                let members = (0..1_000u64).map(noop::new).collect::<Vec<_>>();
                let h = chord(group(members), total::partial())
                    .delay_on(&client)
                    .await?;
                let got = h.get_timeout(Duration::from_secs(300)).await?;
                if got != (0..1_000u64).sum::<u64>() {
                    return Err(format!("chord1000 returned {got}").into());
                }
                runs.push(started.elapsed().as_secs_f64());
            }
            runs.sort_by(f64::total_cmp);
            line("chord1000_runs", runs.len());
            line("chord1000_seconds", format!("{:.3}", runs[runs.len() / 2]));
        }
    }
    worker.stop().await?;
    Ok(())
}

/// A chord callback: the sum of the members' outputs.
#[taskq::task(name = "bench.total", queue = "bench")]
async fn total(values: Vec<u64>) -> u64 {
    values.iter().sum()
}

/// Sends `n` plain `SET`s (16 per pipeline, 8 pipelines in flight, over 10,000 keys under
/// `prefix`): the server's raw rate, and the unit its cost per task is measured in.
pub async fn pipelined_sets(
    conn: &redis::aio::MultiplexedConnection,
    n: usize,
    prefix: &str,
) -> Result<(), BoxError> {
    let mut pipes = futures_util::stream::iter(0..n.div_ceil(16))
        .map(|b| {
            let mut conn = conn.clone();
            async move {
                let mut pipe = redis::pipe();
                for i in 0..16 {
                    pipe.cmd("SET")
                        .arg(format!("{prefix}:{}", (b * 16 + i) % 10_000))
                        .arg("x")
                        .ignore();
                }
                pipe.query_async::<()>(&mut conn).await
            }
        })
        .buffer_unordered(8);
    while let Some(r) = pipes.next().await {
        r?;
    }
    Ok(())
}
