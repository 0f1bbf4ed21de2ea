//! The tasks of the SQLite process and crash tests, shared by the worker binary (which runs
//! them) and the tests (which send them, `#[path]`-included).

#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

/// The queue every task here is on.
pub const QUEUE: &str = "sq";

/// Appends `line` to the run log (`SQ_RUN_LOG`), one `write` of an `O_APPEND` file, so the
/// lines of concurrent processes never interleave and a run is counted even when its worker
/// is killed before it records a result.
fn log_run(line: &str) {
    let Ok(path) = std::env::var("SQ_RUN_LOG") else {
        return;
    };
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path);
    match opened {
        Ok(mut f) => {
            if let Err(e) = f.write_all(format!("{line}\n").as_bytes()) {
                eprintln!("could not log the run to {path}: {e}");
            }
        }
        Err(e) => eprintln!("could not open the run log {path}: {e}"),
    }
}

fn worker_name() -> String {
    std::env::var("WORKER_NAME").unwrap_or_default()
}

/// Logs its run, sleeps, and returns `n * 2` with the name of the worker that ran it.
#[taskq::task(name = "sq.work", queue = "sq", retries = 100)]
pub async fn work(n: u32, sleep_ms: u64) -> (u32, String) {
    log_run(&n.to_string());
    tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    (n * 2, worker_name())
}
