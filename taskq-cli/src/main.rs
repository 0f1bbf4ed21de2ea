//! `taskq`: the command line of taskq. It speaks to any backend (`--url` or `TASKQ_URL`) and
//! reads the same data every operator tool reads: the backend's inspection API, its event log
//! and the workers' heartbeats.
//!
//! ```text
//!  main ─► cli::Cli (clap) ─► commands::run ─► commands/<name>.rs ─► connect ─► Backend
//!                                                     │
//!                                                     └─► output::Out (tables | --json)
//! ```
//!
//! Exit status: 0 ok, 1 not found, 2 error (see [`error::CliError::exit_code`]).

mod cli;
mod commands;
mod confirm;
mod connect;
mod error;
mod output;
mod parse;
mod progress;
mod task_view;

use std::process::ExitCode;

// Links the `sqlite://` backend (its scheme registers at link time).
use taskq_sqlite as _;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let ctx = cli::Ctx::new(cli.global);
    match runtime.block_on(commands::run(cli.command, &ctx)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
