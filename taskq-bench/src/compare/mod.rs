//! `--compare`: the same scenarios on taskq and on the systems people pick instead (Python
//! Celery with the prefork and threads pools, apalis with apalis-redis, rusty-celery), against
//! one private `redis-server`, alternating the systems round by round.
//!
//! ```text
//! cargo run --release -p taskq-bench --no-default-features --features compare -- --compare [--compare-tasks N] [--rounds N]
//! ```
//!
//! The peers are dependencies of this package only, behind the `compare` feature, so the default
//! build never compiles them. Without the feature `--compare` says how to enable it.

use std::process::ExitCode;

#[cfg(feature = "compare")]
mod apalis;
#[cfg(feature = "compare")]
mod celery_py;
#[cfg(feature = "compare")]
mod report;
#[cfg(feature = "compare")]
mod run;
#[cfg(feature = "compare")]
mod rusty_celery;
#[cfg(feature = "compare")]
mod taskq;
// The parts each worker binary (src/bin/) includes too; their `worker` functions are the
// binaries', unused here.
#[cfg(feature = "compare")]
#[allow(dead_code)]
mod tasks_apalis;
#[cfg(feature = "compare")]
#[allow(dead_code)]
mod tasks_rusty_celery;
#[cfg(feature = "compare")]
#[allow(dead_code)]
mod tasks_taskq;
#[cfg(feature = "compare")]
mod worker_common;

/// Handles `--compare`; `None` when it is not on the command line.
pub fn dispatch() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wanted = args.iter().any(|a| a == "--compare");
    if !wanted {
        return None;
    }
    #[cfg(feature = "compare")]
    {
        Some(run::main(&args))
    }
    #[cfg(not(feature = "compare"))]
    {
        eprintln!(
            "--compare needs the peers, which are behind the `compare` feature:\n    \
             cargo run --release -p taskq-bench --no-default-features --features compare -- --compare \
             [--compare-tasks N] [--rounds N]"
        );
        Some(ExitCode::from(2))
    }
}
