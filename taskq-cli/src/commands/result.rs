//! `taskq result ID [--wait [DURATION]]`: a task's result, or its state while it has none.

use taskq::{Client, TaskId};

use crate::cli::Ctx;
use crate::error::CliError;
use crate::parse::{self, Span};
use crate::task_view::ResultView;

/// Arguments of `taskq result`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --wait, an unknown id exits with status 1. With --wait, the id \
    may name a task or workflow that does not exist yet (a workflow's last step): the command \
    waits for it.\n\nExamples:\n  \
    taskq result 67e55044-10b1-426f-9247-bb680e5fe0c8\n  \
    taskq result 67e55044-10b1-426f-9247-bb680e5fe0c8 --wait 30s --json"
)]
pub struct Args {
    /// The task's id.
    #[arg(value_parser = parse::task_id)]
    id: TaskId,

    /// Wait for the result: for at most DURATION (`30s`, `2m`), or as long as it takes.
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    wait: Option<Option<Span>>,
}

/// Prints the result.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match args.wait {
        Some(wait) => wait_and_print(&client, args.id, wait.as_ref(), ctx).await,
        None => {
            let record = client
                .backend()
                .record(args.id)
                .await?
                .ok_or(CliError::TaskNotFound { id: args.id })?;
            ResultView::of_record(record).print(&ctx.out)
        }
    }
}

/// Waits for task `id`'s outcome (at most `wait`, if given) and prints it.
pub async fn wait_and_print(
    client: &Client,
    id: TaskId,
    wait: Option<&Span>,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let outcome = client
        .backend()
        .wait_result(id, wait.map(|w| w.duration))
        .await?;
    match outcome {
        Some(outcome) => ResultView::of_outcome(id, outcome).print(&ctx.out),
        None => Err(CliError::WaitTimedOut {
            id,
            waited: wait.map_or_else(String::new, |w| w.text.clone()),
        }),
    }
}
