//! `taskq start-workflow NAME JSON`: starts a registered workflow by name. The CLI does not link
//! the workflow, so it sends the built-in task `taskq.start_workflow`, and a worker that has the
//! workflow builds and starts it; that task's result is the workflow's id.

use serde::Serialize;
use taskq::canvas::StartWorkflow;
use taskq::{Call, TaskId};

use crate::cli::Ctx;
use crate::error::CliError;
use crate::parse::{self, Span};

/// Arguments of `taskq start-workflow`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints the id of the start task; with --wait, the workflow's id, whose \
    result `taskq result WORKFLOW_ID --wait` waits for.\n\nExample:\n  \
    taskq start-workflow reports.monthly '{\"month\": \"2026-11\"}' --wait 10s"
)]
pub struct Args {
    /// The workflow's registered name.
    name: String,

    /// Its arguments: a JSON object of the workflow function's parameters.
    #[arg(value_name = "JSON", default_value = "{}")]
    args: String,

    /// The queue of the start task; a worker that links the workflow must serve it.
    #[arg(long, short, default_value = taskq::DEFAULT_QUEUE)]
    queue: String,

    /// Wait for the workflow to be started (at most DURATION, or as long as it takes) and print
    /// its id.
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    wait: Option<Option<Span>>,
}

#[derive(Debug, Serialize)]
struct Started<'a> {
    /// The `taskq.start_workflow` task.
    start_task: TaskId,
    workflow: &'a str,
    /// The workflow's id, with `--wait`.
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_id: Option<TaskId>,
}

/// Sends the start task, and with `--wait` waits for the workflow's id.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let value = parse::json_value(&args.args)?;
    let client = ctx.client().await?;
    let call = Call::new(StartWorkflow {
        name: args.name.clone(),
        args: value,
    })
    .queue(args.queue.clone());
    let handle = client.send(call).await?;
    let start_task = handle.id();
    let workflow_id = match &args.wait {
        None => None,
        Some(wait) => {
            let got = match wait {
                Some(w) => handle.get_timeout(w.duration).await,
                None => handle.get().await,
            };
            match got {
                Ok(id) => Some(id),
                Err(taskq::Error::ResultTimeout { id, .. }) => {
                    return Err(CliError::WaitTimedOut {
                        id,
                        waited: wait.as_ref().map_or_else(String::new, |w| w.text.clone()),
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    if ctx.out.is_json() {
        return ctx.out.json(&Started {
            start_task,
            workflow: &args.name,
            workflow_id,
        });
    }
    match workflow_id {
        Some(id) => ctx
            .out
            .line(format_args!("workflow {id} (started by task {start_task})")),
        None => ctx.out.line(start_task),
    }
}
