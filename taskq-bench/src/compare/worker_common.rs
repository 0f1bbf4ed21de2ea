//! What every Rust worker binary of `--compare` shares (`src/bin/taskq-bench-worker-*.rs`):
//! each system's worker runs in a binary of its own that holds only that system, as a user's
//! worker binary would, so that its resident memory is its own.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// A boxed error: the process reports it and exits.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wall clock, nanoseconds since the epoch (it means the same in every process).
pub fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A system's worker: serves the comparison's queue at a concurrency until killed.
pub type WorkerFn = fn(String, usize) -> Pin<Box<dyn Future<Output = Result<(), BoxError>>>>;

/// `taskq-bench-worker-SYSTEM --redis-url URL --concurrency N`: runs `worker` on the runtime
/// `#[tokio::main]` gives (one thread per core).
#[allow(dead_code)] // The worker binaries' entry point; the harness only starts them.
pub fn main(worker: WorkerFn) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let url = get("--redis-url").unwrap_or_default();
    let concurrency = get("--concurrency")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(16);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("worker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(worker(url, concurrency)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker failed: {e}");
            ExitCode::FAILURE
        }
    }
}
