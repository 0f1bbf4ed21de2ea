//! `taskq-bench`: throughput and latency of taskq, printed as `key: value` lines.
//!
//! ```text
//! cargo run --release -p taskq-bench -- --backend memory --tasks 200000
//! ```
//!
//! Every figure comes from tasks that really ran: each scenario awaits every handle and checks
//! the returned values.

mod scenarios;

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
}

fn usage() -> &'static str {
    "usage: taskq-bench [--backend memory|redis] [--tasks N] [--redis-url URL] \
     [--concurrency N] [--latency-samples N] [--prefill N]"
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        backend: "memory".into(),
        tasks: 200_000,
        redis_url: None,
        concurrency: 64,
        latency_samples: 2_000,
        prefill: 0,
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
            "-h" | "--help" => return Err(usage().to_owned()),
            other => return Err(format!("unknown option `{other}`\n{}", usage())),
        }
    }
    if o.tasks == 0 {
        return Err("--tasks must be at least 1".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(scenarios::run(&options));
    runtime.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}
