//! The command line: global options, and the context every command runs with.

use clap::Parser;
use taskq::Client;

use crate::commands::Command;
use crate::connect;
use crate::error::CliError;
use crate::output::Out;

/// Inspect and operate taskq: queues, workers, tasks, dead letters and events, on any backend.
///
/// Exit status: 0 when the command did what it says, 1 when the task asked about does not exist
/// (or has already finished, for `revoke`), 2 for every other error.
#[derive(Debug, Parser)]
#[command(
    name = "taskq",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Examples:\n  \
        export TASKQ_URL=redis://127.0.0.1:6379/0\n  \
        taskq queues\n  \
        taskq send billing.charge --args '{\"customer\": 42}' --countdown 10s\n  \
        taskq result 67e55044-10b1-426f-9247-bb680e5fe0c8 --wait 30s\n  \
        taskq dead requeue emails --reason attempts_exhausted"
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// The backend to talk to: `redis://[:password@]host[:port][/db][?prefix=name]`, or any
    /// scheme a linked backend registers (`memory://` is a fresh, empty in-memory backend).
    #[arg(long, env = taskq::URL_ENV, global = true, value_name = "URL")]
    pub url: Option<String>,

    /// Print JSON for scripts instead of tables (JSON Lines for `events --follow`).
    #[arg(long, global = true)]
    pub json: bool,
}

/// What a command runs with: the options, and where to print.
#[derive(Debug)]
pub struct Ctx {
    /// The global options.
    pub global: Global,
    /// The output.
    pub out: Out,
}

impl Ctx {
    /// The context of `global`.
    pub fn new(global: Global) -> Self {
        let out = Out::new(global.json);
        Self { global, out }
    }

    /// Connects to the backend.
    pub async fn client(&self) -> Result<Client, CliError> {
        connect::connect(self.global.url.as_deref()).await
    }
}
