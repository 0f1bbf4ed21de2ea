//! `taskq pause QUEUE`: workers everywhere stop fetching from the queue (within one fetch
//! cycle); what is in it stays, and running tasks go on. `taskq resume QUEUE` undoes it.

use serde::Serialize;

use crate::cli::Ctx;
use crate::error::CliError;

/// Arguments of `taskq pause`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The queue.
    queue: String,
}

/// What `pause` and `resume` print with `--json`.
#[derive(Debug, Serialize)]
pub struct Paused<'a> {
    /// The queue.
    pub queue: &'a str,
    /// Whether it is paused now.
    pub paused: bool,
}

/// Pauses it.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    client.backend().pause_queue(&args.queue).await?;
    if ctx.out.is_json() {
        return ctx.out.json(&Paused {
            queue: &args.queue,
            paused: true,
        });
    }
    ctx.out.line(format_args!(
        "paused queue `{}`: workers take nothing from it until `taskq resume {}`",
        args.queue, args.queue
    ))
}
