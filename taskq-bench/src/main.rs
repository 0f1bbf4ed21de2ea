//! `taskq-bench`: throughput and latency of taskq, printed as `key: value` lines.
//!
//! ```text
//! cargo run --release -p taskq-bench -- --backend memory --tasks 200000
//! ```
//!
//! Every figure comes from tasks that really ran: each scenario awaits every handle and checks
//! the returned values.

mod celery;
mod compare;
mod metrics_cost;
mod scenarios;
mod schedules;
mod web;

// The system allocator (glibc) spends a third of the run in malloc/free when tasks are
// allocated on one thread and freed on another; production services pick an allocator, and so
// does the bench. `--no-default-features` measures with the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;
use std::time::Duration;

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub backend: String,
    pub tasks: usize,
    pub redis_url: Option<String>,
    pub concurrency: usize,
    pub latency_samples: usize,
    pub prefill: usize,
    /// How many `.delay()` calls the end-to-end producer keeps in flight (default: 1 in memory,
    /// where a call never waits; 64 on Redis, where each waits for a round trip).
    pub window: usize,
    /// A workflow scenario instead of the task scenarios: `chain10` or `chord1000`.
    pub workflow: Option<String>,
    /// Which scenarios to run (`all`, or a comma-separated list of `enqueue`,
    /// `enqueue_batched` (the batched half of `enqueue` alone), `process`, `e2e`, `latency`,
    /// `metrics` (memory: end to end with metrics off and on, also part of `e2e`)).
    pub scenarios: Vec<String>,
    /// `--web`: the REST API's submit and status figures instead of the task scenarios.
    pub web: bool,
    /// `--web`: how many keep-alive connections the load generator keeps busy.
    pub web_connections: usize,
    /// `--web`: how long each scenario is measured, in seconds.
    pub web_seconds: f64,
    /// `--schedules`: a schedule's tick-to-start latency on Redis instead of the task scenarios.
    pub schedules: bool,
    /// `--schedules`: the schedule's interval, in milliseconds.
    pub schedule_every_ms: u64,
    /// `--schedules`: how long the ticks are measured, in seconds.
    pub schedule_seconds: f64,
}

impl Options {
    /// Whether scenario `name` was asked for.
    pub fn wants(&self, name: &str) -> bool {
        self.scenarios.iter().any(|s| s == "all" || s == name)
    }
}

fn usage() -> &'static str {
    "usage: taskq-bench [--backend memory|redis|sqlite|celery-redis] [--tasks N] [--redis-url URL] \
     [--concurrency N] [--latency-samples N] [--prefill N] \
     [--window N] [--scenarios all|enqueue,enqueue_batched,process,e2e,latency,metrics] \
     [--workflow chain10|chord1000] \
     | --web [--web-connections N] [--web-seconds S] \
     | --schedules [--schedule-every-ms N] [--schedule-seconds S] [--redis-url URL] \
     | --compare [--compare-tasks N] [--rounds N] (needs --no-default-features --features compare)"
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        backend: "memory".into(),
        tasks: 200_000,
        redis_url: None,
        concurrency: 64,
        latency_samples: 2_000,
        prefill: 0,
        window: 0,
        workflow: None,
        scenarios: vec!["all".into()],
        web: false,
        web_connections: 16,
        web_seconds: 5.0,
        schedules: false,
        schedule_every_ms: 100,
        schedule_seconds: 20.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))
        };
        let number = |v: String| {
            v.replace('_', "")
                .parse::<usize>()
                .map_err(|_| format!("{flag}: `{v}` is not a whole number"))
        };
        match flag.as_str() {
            "--backend" => o.backend = value()?,
            "--tasks" => o.tasks = number(value()?)?,
            "--redis-url" => o.redis_url = Some(value()?),
            "--concurrency" => o.concurrency = number(value()?)?,
            "--latency-samples" => o.latency_samples = number(value()?)?,
            "--prefill" => o.prefill = number(value()?)?,
            "--window" => o.window = number(value()?)?.max(1),
            "--workflow" => {
                let w = value()?;
                if w != "chain10" && w != "chord1000" {
                    return Err(format!("--workflow: `{w}` is not chain10 or chord1000"));
                }
                o.workflow = Some(w);
            }
            "--scenarios" => {
                o.scenarios = value()?.split(',').map(|s| s.trim().to_owned()).collect()
            }
            "--web" => o.web = true,
            "--web-connections" => o.web_connections = number(value()?)?.max(1),
            "--web-seconds" => {
                let v = value()?;
                o.web_seconds = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0)
                    .ok_or_else(|| format!("--web-seconds: `{v}` is not a positive number"))?;
            }
            "--schedules" => o.schedules = true,
            "--schedule-every-ms" => {
                o.schedule_every_ms = u64::try_from(number(value()?)?.max(1)).unwrap_or(u64::MAX)
            }
            "--schedule-seconds" => {
                let v = value()?;
                o.schedule_seconds =
                    v.parse::<f64>().ok().filter(|s| *s > 0.0).ok_or_else(|| {
                        format!("--schedule-seconds: `{v}` is not a positive number")
                    })?;
            }
            "-h" | "--help" => return Err(usage().to_owned()),
            other => return Err(format!("unknown option `{other}`\n{}", usage())),
        }
    }
    if o.window == 0 {
        o.window = if o.backend == "memory" { 1 } else { 64 };
    }
    if o.tasks == 0 {
        return Err("--tasks must be at least 1".into());
    }
    Ok(o)
}

/// The harness's runtime: one thread, leaving the other core to the worker.
pub(crate) fn harness_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            None
        }
    }
}

fn main() -> ExitCode {
    // `--compare`: taskq against its peers (src/compare/).
    if let Some(code) = compare::dispatch() {
        return code;
    }
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = harness_runtime() else {
        return ExitCode::FAILURE;
    };
    // Run the scenarios on the runtime's own threads, not on the main thread: a third busy
    // thread on a two-core machine would only add context switches.
    let result = runtime.block_on(async move {
        let run = async move {
            if options.web {
                web::run(&options).await
            } else if options.schedules {
                schedules::run(&options).await
            } else if options.backend == "celery-redis" {
                celery::run(&options).await
            } else {
                scenarios::run(&options).await?;
                // Memory: the end-to-end figure with metrics off and on.
                if options.backend == "memory" && (options.wants("e2e") || options.wants("metrics"))
                {
                    metrics_cost::run(&options).await?;
                }
                Ok(())
            }
        };
        match tokio::spawn(run).await {
            Ok(r) => r,
            Err(e) => Err(e.into()),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}
