//! The comparison harness: options, the private Redis server, worker processes, rounds and
//! medians.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use taskq_redis::testing::RedisServer;

use super::{apalis, celery_py, report, rusty_celery, taskq};

/// A boxed error: a scenario that fails reports it and the run goes on.
pub use super::worker_common::{wall_ns, BoxError};

/// The systems, in the order of the first round (later rounds rotate it).
pub const SYSTEMS: [&str; 5] = [
    "taskq",
    "apalis",
    "rusty_celery",
    "celery_prefork",
    "celery_threads",
];

/// Scenario figures, in table order: (key suffix, label, unit, higher is better).
pub const FIGURES: [(&str, &str, &str, bool); 8] = [
    (
        "enqueue_batch_tasks_per_s",
        "enqueue, 1 producer, batched",
        "tasks/s",
        true,
    ),
    (
        "enqueue_tasks_per_s",
        "enqueue, 1 producer, one send awaited at a time",
        "tasks/s",
        true,
    ),
    (
        "process_c2_tasks_per_s",
        "drain, concurrency 2",
        "tasks/s",
        true,
    ),
    (
        "process_c16_tasks_per_s",
        "drain, concurrency 16",
        "tasks/s",
        true,
    ),
    (
        "e2e_tasks_per_s",
        "end to end, concurrency 16",
        "tasks/s",
        true,
    ),
    ("latency_p50_us", "enqueue -> start p50", "µs", false),
    ("latency_p99_us", "enqueue -> start p99", "µs", false),
    (
        "worker_peak_rss_mb",
        "worker peak RSS (drain c16)",
        "MiB",
        false,
    ),
];

/// What `--compare` runs.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub tasks: usize,
    pub python_tasks: usize,
    pub rounds: usize,
    pub latency_samples: usize,
    pub redis_url: Option<String>,
    pub systems: Vec<String>,
    pub write_docs: bool,
}

/// What every scenario needs: the server, and how to start worker processes.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub url: String,
    pub exe: PathBuf,
    pub python_dir: PathBuf,
    pub python: PathBuf,
}

impl Ctx {
    /// A worker process of `system`: its own binary (`taskq-bench-worker-SYSTEM`, next to this
    /// one), which holds that system only.
    pub fn spawn_worker(&self, system: &str, concurrency: usize) -> Result<WorkerProc, BoxError> {
        let child = Command::new(worker_binary(&self.exe, system))
            .args(["--redis-url", &self.url])
            .args(["--concurrency", &concurrency.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        // No start-up check here: a pause would let the worker drain tasks before the drain
        // scenario's clock starts (at 80,000 tasks/s, 100 ms is 8,000 of them).
        Ok(WorkerProc { child })
    }

    pub async fn redis(&self) -> Result<redis::aio::MultiplexedConnection, BoxError> {
        let client = redis::Client::open(self.url.as_str())?;
        Ok(client.get_multiplexed_async_connection().await?)
    }

    /// Empties the server between runs, so no system sees another's keys.
    pub async fn flush(&self) -> Result<(), BoxError> {
        let mut c = self.redis().await?;
        redis::cmd("FLUSHALL").query_async::<()>(&mut c).await?;
        Ok(())
    }
}

/// A worker process; killed when dropped (also on a timeout).
#[derive(Debug)]
pub struct WorkerProc {
    child: Child,
}

impl WorkerProc {
    /// The process's peak resident set size so far, in MiB (`VmHWM`).
    pub fn peak_rss_mb(&self) -> f64 {
        if std::env::var_os("TASKQ_BENCH_SMAPS").is_some() {
            eprintln!("  worker RSS now: {}", rss_breakdown(self.child.id()));
        }
        vm_hwm_mb(self.child.id())
    }

    /// An error if the process has exited.
    pub fn check_alive(&mut self) -> Result<(), BoxError> {
        match self.child.try_wait()? {
            Some(status) => Err(format!("worker process exited: {status}").into()),
            None => Ok(()),
        }
    }

    /// Runs `scenario`, failing as soon as the worker process exits (checked every 20 ms),
    /// rather than when the scenario's own wait runs out.
    pub async fn while_alive<T>(
        &mut self,
        scenario: impl std::future::Future<Output = Result<T, BoxError>>,
    ) -> Result<T, BoxError> {
        let mut scenario = std::pin::pin!(scenario);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = &mut scenario => return r,
                _ = tick.tick() => self.check_alive()?,
            }
        }
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmHWM` of a process, in MiB (0 if it is gone).
pub fn vm_hwm_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `TASKQ_BENCH_SMAPS=1`: where a worker's resident pages are (its executable's pages, shared
/// libraries, anonymous memory), from `/proc/PID/smaps`, in KiB.
fn rss_breakdown(pid: u32) -> String {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return "unreadable".into();
    };
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    let (mut own, mut libs, mut anon) = (0u64, 0u64, 0u64);
    let mut name = String::new();
    for line in smaps.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            name = parts.nth(4).unwrap_or("").to_owned();
        } else if first == "Rss:" {
            let kb = parts
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if std::path::Path::new(&name) == exe {
                own += kb;
            } else if name.starts_with('/') {
                libs += kb;
            } else {
                anon += kb;
            }
        }
    }
    format!("executable {own} KiB, shared libraries {libs} KiB, anonymous {anon} KiB")
}

/// How many batches (of 1,000) one producer keeps in flight in the batched enqueue, for the
/// systems with a batch API; `TASKQ_BENCH_BATCHES_IN_FLIGHT` overrides it, for trying settings.
pub fn batches_in_flight() -> usize {
    env_number("TASKQ_BENCH_BATCHES_IN_FLIGHT").unwrap_or(4)
}

/// How many single sends one producer keeps in flight in the batched enqueue, for the systems
/// without a batch API; `TASKQ_BENCH_SENDS_IN_FLIGHT` overrides it.
pub fn sends_in_flight() -> usize {
    env_number("TASKQ_BENCH_SENDS_IN_FLIGHT").unwrap_or(64)
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
}

pub fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// p50 and p99 of samples in nanoseconds, in microseconds.
pub fn p50_p99_us(mut ns: Vec<u64>) -> (f64, f64) {
    ns.sort_unstable();
    let at = |p: f64| {
        if ns.is_empty() {
            return 0.0;
        }
        let i = ((ns.len() - 1) as f64 * p).round() as usize;
        ns[i.min(ns.len() - 1)] as f64 / 1_000.0
    };
    (at(0.50), at(0.99))
}

/// Polls a counter (a Redis key read with `read`) until it reaches `target`; returns when it
/// first moved past `start` and when it reached the target.
pub async fn watch_counter<F, Fut>(
    worker: &mut WorkerProc,
    start: u64,
    target: u64,
    deadline: Duration,
    mut read: F,
) -> Result<(Instant, Instant), BoxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, BoxError>>,
{
    let began = Instant::now();
    let mut first = None;
    loop {
        let now = read().await?;
        if now > start && first.is_none() {
            first = Some(Instant::now());
        }
        if now >= target {
            let done = Instant::now();
            return Ok((first.unwrap_or(done), done));
        }
        if began.elapsed() > deadline {
            return Err(format!("timeout: {} of {} done", now - start, target - start).into());
        }
        worker.check_alive()?;
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// One scenario's result in one round.
#[derive(Debug, Clone)]
pub enum Outcome {
    Value(f64),
    Failed(String),
    Timeout(String),
}

fn outcome_of(e: &BoxError) -> Outcome {
    let msg = e.to_string();
    if msg.contains("timeout") || msg.contains("timed out") || msg.contains("Timeout") {
        Outcome::Timeout(msg)
    } else {
        Outcome::Failed(msg)
    }
}

/// The figures of one system in one round.
pub type Figures = BTreeMap<String, Outcome>;

fn usage() -> &'static str {
    "usage: taskq-bench --compare [--compare-tasks N] [--rounds N] [--python-tasks N] \
     [--latency-samples N] [--systems taskq,apalis,rusty_celery,celery_prefork,celery_threads] \
     [--redis-url URL] [--no-docs]"
}

fn parse(args: &[String]) -> Result<CompareOptions, String> {
    let mut o = CompareOptions {
        tasks: 100_000,
        python_tasks: 0,
        rounds: 3,
        latency_samples: 200,
        redis_url: None,
        systems: SYSTEMS.iter().map(|s| s.to_string()).collect(),
        write_docs: true,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))
        };
        let number = |v: String| {
            v.replace('_', "")
                .parse::<usize>()
                .map_err(|_| format!("{flag}: `{v}` is not a whole number"))
        };
        match flag.as_str() {
            "--compare" => {}
            "--compare-tasks" | "--tasks" => o.tasks = number(value()?)?.max(10),
            "--python-tasks" => o.python_tasks = number(value()?)?.max(10),
            "--rounds" => o.rounds = number(value()?)?.max(1),
            "--latency-samples" => o.latency_samples = number(value()?)?.max(10),
            "--redis-url" => o.redis_url = Some(value()?),
            "--systems" => o.systems = value()?.split(',').map(|s| s.trim().to_owned()).collect(),
            "--no-docs" => o.write_docs = false,
            other => {
                return Err(format!(
                    "unknown option `{other}` with --compare\n{}",
                    usage()
                ))
            }
        }
    }
    if o.python_tasks == 0 {
        o.python_tasks = (o.tasks / 10).max(1_000).min(o.tasks);
    }
    if let Some(bad) = o.systems.iter().find(|s| !SYSTEMS.contains(&s.as_str())) {
        return Err(format!("unknown system `{bad}`\n{}", usage()));
    }
    Ok(o)
}

/// The worker binary of `system`, next to the harness's own.
fn worker_binary(exe: &std::path::Path, system: &str) -> PathBuf {
    exe.with_file_name(format!("taskq-bench-worker-{}", system.replace('_', "-")))
}

/// Builds the worker binaries (`src/bin/`) with the harness's own profile and features, so a
/// plain `cargo run ... -- --compare` runs fresh ones.
fn build_workers(exe: &std::path::Path) -> Result<(), BoxError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "--quiet",
        "-p",
        "taskq-bench",
        "--no-default-features",
        "--features",
        "compare",
    ]);
    for system in ["taskq", "rusty_celery", "apalis"] {
        cmd.arg("--bin")
            .arg(worker_binary(exe, system).file_name().unwrap_or_default());
    }
    if exe.parent().and_then(|d| d.file_name()) == Some(std::ffi::OsStr::new("release")) {
        cmd.arg("--release");
    }
    eprintln!("building the worker binaries: {cmd:?}");
    let status = cmd.status()?;
    if !status.success() {
        return Err(format!("building the worker binaries failed: {status}").into());
    }
    Ok(())
}

/// Entry point for `--compare`.
pub fn main(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = crate::harness_runtime() else {
        return ExitCode::FAILURE;
    };
    // On the main thread: the scenario futures borrow the options and are not all `Send`.
    let result = runtime.block_on(compare(&options));
    runtime.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("comparison failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn timed<T>(
    deadline: Duration,
    f: impl Future<Output = Result<T, BoxError>>,
) -> Result<T, BoxError> {
    match tokio::time::timeout(deadline, f).await {
        Ok(r) => r,
        Err(_) => Err(format!("timeout after {} s", deadline.as_secs()).into()),
    }
}

/// Runs every scenario of one Rust system once.
async fn rust_system(ctx: &Ctx, o: &CompareOptions, system: &str) -> Figures {
    let n = o.tasks;
    let deadline = Duration::from_secs(120 + (n as u64) / 100);
    let mut f = Figures::new();
    let put = |f: &mut Figures, key: &str, r: Result<f64, BoxError>| {
        let out = match r {
            Ok(v) => Outcome::Value(v),
            Err(e) => {
                eprintln!("{system} {key}: {e}");
                outcome_of(&e)
            }
        };
        f.insert(key.to_owned(), out);
    };
    let enq = timed(deadline, async {
        match system {
            "taskq" => taskq::enqueue(ctx, n).await,
            "apalis" => apalis::enqueue(ctx, n).await,
            _ => rusty_celery::enqueue(ctx, n).await,
        }
    })
    .await;
    put(&mut f, "enqueue_tasks_per_s", enq);
    let _ = ctx.flush().await;
    let enq = timed(deadline, async {
        match system {
            "taskq" => taskq::enqueue_batch(ctx, n).await,
            "apalis" => apalis::enqueue_batch(ctx, n).await,
            _ => rusty_celery::enqueue_batch(ctx, n).await,
        }
    })
    .await;
    put(&mut f, "enqueue_batch_tasks_per_s", enq);
    let _ = ctx.flush().await;
    for c in [2usize, 16] {
        let r = timed(deadline, async {
            match system {
                "taskq" => taskq::process(ctx, n, c).await,
                "apalis" => apalis::process(ctx, n, c).await,
                _ => rusty_celery::process(ctx, n, c).await,
            }
        })
        .await;
        let _ = ctx.flush().await;
        match r {
            Ok((per_s, rss)) => {
                put(&mut f, &format!("process_c{c}_tasks_per_s"), Ok(per_s));
                if c == 16 {
                    put(&mut f, "worker_peak_rss_mb", Ok(rss));
                }
            }
            Err(e) => {
                let out = outcome_of(&e);
                eprintln!("{system} process c{c}: {e}");
                f.insert(format!("process_c{c}_tasks_per_s"), out.clone());
                if c == 16 {
                    f.insert("worker_peak_rss_mb".into(), out);
                }
            }
        }
    }
    let e2e = timed(deadline, async {
        match system {
            "taskq" => taskq::end_to_end(ctx, n, 16).await,
            "apalis" => apalis::end_to_end(ctx, n, 16).await,
            _ => rusty_celery::end_to_end(ctx, n, 16).await,
        }
    })
    .await;
    put(&mut f, "e2e_tasks_per_s", e2e);
    let _ = ctx.flush().await;
    let samples = latency_samples(o, system);
    let lat = timed(Duration::from_secs(60 + samples as u64 * 3), async {
        match system {
            "taskq" => taskq::latency(ctx, samples, 16).await,
            "apalis" => apalis::latency(ctx, samples, 16).await,
            _ => rusty_celery::latency(ctx, samples, 16).await,
        }
    })
    .await;
    let _ = ctx.flush().await;
    match lat {
        Ok(ns) => {
            let (p50, p99) = p50_p99_us(ns);
            put(&mut f, "latency_p50_us", Ok(p50));
            put(&mut f, "latency_p99_us", Ok(p99));
        }
        Err(e) => {
            let out = outcome_of(&e);
            eprintln!("{system} latency: {e}");
            f.insert("latency_p50_us".into(), out.clone());
            f.insert("latency_p99_us".into(), out);
        }
    }
    f
}

/// Latency samples per system: rusty-celery's Redis broker polls an empty queue once a second,
/// so each of its samples takes up to a second; it gets fewer (stated in the report).
pub fn latency_samples(o: &CompareOptions, system: &str) -> usize {
    if system == "rusty_celery" {
        o.latency_samples.min(40)
    } else {
        o.latency_samples
    }
}

/// The raw Redis rate of this run: `redis-benchmark -q -t set -P 16`, or (without the tool)
/// pipelined SETs 16 deep through the redis crate.
async fn redis_set_rate(ctx: &Ctx, port: u16) -> Result<(f64, &'static str), BoxError> {
    let out = tokio::process::Command::new("redis-benchmark")
        .args(["-q", "-t", "set", "-P", "16", "-n", "1000000", "-p"])
        .arg(port.to_string())
        .output()
        .await;
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        // The last "SET: 123.45 requests per second" (the tool redraws the line with \r).
        if let Some(v) = text.rsplit(['\r', '\n']).find_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("SET:")?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        }) {
            return Ok((v, "redis-benchmark -q -t set -P 16 -n 1000000"));
        }
    }
    let conn = ctx.redis().await?;
    let n = 400_000usize;
    let started = Instant::now();
    crate::scenarios::pipelined_sets(&conn, n, "cmp:set").await?;
    Ok((
        rate(n, started.elapsed()),
        "redis crate, pipelined SET x16, 8 in flight",
    ))
}

/// The ceiling of the "one send awaited at a time" row: plain `SET`s from the same client
/// library as taskq's and apalis's producers (the `redis` crate 1.x; rusty-celery's is 0.22), each awaited
/// before the next, on the harness's runtime.
async fn redis_single_rate(ctx: &Ctx) -> Result<f64, BoxError> {
    let mut conn = ctx.redis().await?;
    let n = 20_000usize;
    let started = Instant::now();
    for i in 0..n {
        redis::cmd("SET")
            .arg(format!("cmp:one:{}", i % 1_000))
            .arg("x")
            .query_async::<()>(&mut conn)
            .await?;
    }
    Ok(rate(n, started.elapsed()))
}

/// Prints `key: median` (or `key: failed` if nothing was measured) and returns the median.
fn print_median(key: &str, rates: &mut [f64]) -> Option<f64> {
    rates.sort_by(f64::total_cmp);
    let median = rates.get(rates.len() / 2).copied();
    match median {
        Some(r) => println!("{key}: {}", r.round()),
        None => println!("{key}: failed"),
    }
    median
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn compare(o: &CompareOptions) -> Result<(), BoxError> {
    let exe = std::env::current_exe()?;
    if o.systems
        .iter()
        .any(|s| matches!(s.as_str(), "taskq" | "apalis" | "rusty_celery"))
    {
        build_workers(&exe)?;
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().map(PathBuf::from).unwrap_or_default();
    let (url, server) = match &o.redis_url {
        Some(u) => (u.clone(), None),
        None => {
            let s = RedisServer::start();
            (s.url(), Some(s))
        }
    };
    let port = server.as_ref().map_or_else(
        || {
            url.rsplit(':')
                .next()
                .and_then(|p| p.split('/').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(6379)
        },
        |s| s.port(),
    );
    let ctx = Ctx {
        url,
        exe,
        python_dir: manifest.join("python"),
        python: root.join(".venv/bin/python"),
    };
    ctx.flush().await?;
    let load_before = load_avg();
    println!("compare_tasks_rust: {}", o.tasks);
    println!("compare_tasks_python: {}", o.python_tasks);
    println!("compare_rounds: {}", o.rounds);
    let started = Instant::now();
    let mut rounds: BTreeMap<String, Vec<Figures>> = BTreeMap::new();
    let mut redis_rates = Vec::new();
    let mut redis_method = "";
    let mut single_rates = Vec::new();
    for round in 0..o.rounds {
        match redis_set_rate(&ctx, port).await {
            Ok((v, m)) => {
                redis_rates.push(v);
                redis_method = m;
            }
            Err(e) => eprintln!("redis rate: {e}"),
        }
        match redis_single_rate(&ctx).await {
            Ok(v) => single_rates.push(v),
            Err(e) => eprintln!("redis rate, one SET at a time: {e}"),
        }
        let _ = ctx.flush().await;
        let k = o.systems.len();
        for j in 0..k {
            let system = o.systems[(j + round) % k].clone();
            eprintln!(
                "round {}/{}: {system} ({:.0} s in)",
                round + 1,
                o.rounds,
                started.elapsed().as_secs_f64()
            );
            let figures = match system.as_str() {
                "celery_prefork" | "celery_threads" => {
                    let pool = system.trim_start_matches("celery_");
                    celery_py::run(&ctx, o, pool).await
                }
                s => rust_system(&ctx, o, s).await,
            };
            let _ = ctx.flush().await;
            for (key, v) in &figures {
                eprintln!("  {system}_{key}: {}", show(std::slice::from_ref(v)));
            }
            rounds.entry(system).or_default().push(figures);
        }
    }
    let load_after = load_avg();
    let elapsed = started.elapsed();
    // The medians.
    let mut table: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut numbers: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for system in &o.systems {
        let runs = rounds.get(system).cloned().unwrap_or_default();
        for (key, _, _, _) in FIGURES {
            let outs: Vec<Outcome> = runs
                .iter()
                .map(|f| {
                    f.get(key)
                        .cloned()
                        .unwrap_or_else(|| Outcome::Failed("not run".into()))
                })
                .collect();
            let shown = show(&outs);
            println!("{system}_{key}: {shown}");
            if let Some(v) = median_of(&outs) {
                numbers
                    .entry(system.clone())
                    .or_default()
                    .insert(key.to_owned(), v);
            }
            table
                .entry(system.clone())
                .or_default()
                .insert(key.to_owned(), shown);
        }
    }
    let redis_median = print_median("redis_set_p16_ops_per_s", &mut redis_rates);
    let single_median = print_median("redis_set_one_at_a_time_ops_per_s", &mut single_rates);
    for system in &o.systems {
        if system == "taskq" {
            continue;
        }
        for (key, _, _, higher) in FIGURES {
            let (Some(a), Some(b)) = (
                numbers.get("taskq").and_then(|m| m.get(key)),
                numbers.get(system).and_then(|m| m.get(key)),
            ) else {
                continue;
            };
            let ratio = if higher { a / b } else { b / a };
            println!("taskq_vs_{system}_{key}_ratio: {ratio:.2}");
        }
    }
    if o.write_docs {
        let meta = report::Meta {
            options: o.clone(),
            redis_rate: redis_median,
            redis_single_rate: single_median,
            redis_method: redis_method.to_owned(),
            load_before,
            load_after,
            elapsed,
            root: root.clone(),
            python: ctx.python.clone(),
        };
        report::write(&meta, &table, &numbers)?;
        println!("docs: {}", root.join("docs/benchmarks.md").display());
    }
    drop(server);
    Ok(())
}

/// The median of the values, when every round gave one.
pub fn median_of(outs: &[Outcome]) -> Option<f64> {
    let mut v: Vec<f64> = outs
        .iter()
        .map(|o| match o {
            Outcome::Value(v) => Some(*v),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The value of a figure: the median, or `failed`/`timeout` with how many rounds did so.
pub fn show(outs: &[Outcome]) -> String {
    if let Some(m) = median_of(outs) {
        return if m >= 100.0 {
            format!("{}", m.round())
        } else {
            format!("{m:.1}")
        };
    }
    let bad = outs
        .iter()
        .filter(|o| !matches!(o, Outcome::Value(_)))
        .count();
    let first = outs.iter().find_map(|o| match o {
        Outcome::Timeout(m) => Some(("timeout", m.clone())),
        Outcome::Failed(m) => Some(("failed", m.clone())),
        Outcome::Value(_) => None,
    });
    match first {
        Some((word, msg)) => {
            let msg: String = msg.chars().take(120).collect::<String>().replace('\n', " ");
            format!("{word} ({bad} of {} rounds: {msg})", outs.len())
        }
        None => "failed (no rounds)".into(),
    }
}
