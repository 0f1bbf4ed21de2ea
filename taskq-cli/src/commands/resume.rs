//! `taskq resume QUEUE`: workers fetch from a paused queue again, at once.

use crate::cli::Ctx;
use crate::commands::pause::Paused;
use crate::error::CliError;

/// Arguments of `taskq resume`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The queue.
    queue: String,
}

/// Resumes it.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    client.backend().resume_queue(&args.queue).await?;
    if ctx.out.is_json() {
        return ctx.out.json(&Paused {
            queue: &args.queue,
            paused: false,
        });
    }
    ctx.out.line(format_args!("resumed queue `{}`", args.queue))
}
