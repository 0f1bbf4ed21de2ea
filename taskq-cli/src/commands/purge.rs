//! `taskq purge QUEUE`: deletes every task of the queue that waits (ready and scheduled), each
//! resolved as cancelled so that whoever awaits it learns; running tasks and dead letters stay.

use serde::Serialize;

use crate::cli::Ctx;
use crate::confirm::confirm;
use crate::error::CliError;
use crate::output::plural;

/// Arguments of `taskq purge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The queue.
    queue: String,

    /// Do not ask for confirmation.
    #[arg(long, short)]
    yes: bool,
}

#[derive(Debug, Serialize)]
struct Purged<'a> {
    queue: &'a str,
    purged: usize,
}

/// Purges it.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let backend = client.backend();
    let queue = args.queue.as_str();
    let stats = backend.queue_stats(queue).await?;
    confirm(
        args.yes,
        &format!(
            "Delete {} ({} ready, {} scheduled) of queue `{queue}`?",
            plural(stats.ready + stats.delayed, "task", "tasks"),
            stats.ready,
            stats.delayed
        ),
        &format!("purge queue `{queue}`"),
    )?;
    let purged = backend.purge_queue(queue).await?;
    if ctx.out.is_json() {
        return ctx.out.json(&Purged { queue, purged });
    }
    ctx.out.line(format_args!(
        "purged {} of queue `{queue}`",
        plural(purged, "task", "tasks")
    ))
}
