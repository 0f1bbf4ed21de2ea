//! `taskq send NAME --args JSON`: sends a task by its registered name, as a producer in another
//! binary or language would; the worker that has the task decodes the arguments into its struct.

use serde::Serialize;
use taskq::{Envelope, TaskId, Timestamp, MAX_PRIORITY};

use crate::cli::Ctx;
use crate::error::CliError;
use crate::parse::{self, Span};

/// Arguments of `taskq send`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    taskq send billing.charge --args '{\"customer\": 42, \"cents\": 1999}'\n  \
    taskq send reports.nightly --queue reports --countdown 10m\n  \
    taskq send math.add --args '[2, 3]' --wait 30s")]
pub struct Args {
    /// The task's registered name (`#[task(name = \"...\")]`, or its module path and function
    /// name).
    name: String,

    /// The arguments: a JSON object of the task's parameters by name, or an array of them in
    /// order.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    args: String,

    /// The queue to send it to; it must be one the task's workers serve.
    #[arg(long, short, default_value = taskq::DEFAULT_QUEUE)]
    queue: String,

    /// Run it no sooner than this from now (`10s`, `500ms`, `2m`).
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    countdown: Option<Span>,

    /// Priority, 0 to 9; higher runs first.
    #[arg(long, default_value_t = taskq::DEFAULT_PRIORITY,
          value_parser = clap::value_parser!(u8).range(0..=i64::from(MAX_PRIORITY)))]
    priority: u8,

    /// How many times to try again after a failure.
    #[arg(long, default_value_t = 0)]
    retries: u32,

    /// Wait for the result and print it: for at most DURATION, or as long as it takes.
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    wait: Option<Option<Span>>,
}

#[derive(Debug, Serialize)]
struct Sent<'a> {
    id: TaskId,
    task: &'a str,
    queue: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    eta: Option<Timestamp>,
}

/// Sends it.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let payload = parse::json_args(&args.args)?;
    let client = ctx.client().await?;
    let mut env = Envelope::new(args.name.clone(), args.queue.clone(), payload);
    env.priority = args.priority;
    env.max_attempts = args.retries.saturating_add(1);
    env.eta = args
        .countdown
        .as_ref()
        .map(|c| Timestamp::now().after(c.duration));
    let (id, eta) = (env.id, env.eta);
    client.send_envelopes(vec![env]).await?;

    let Some(wait) = args.wait else {
        let sent = Sent {
            id,
            task: &args.name,
            queue: &args.queue,
            eta,
        };
        return if ctx.out.is_json() {
            ctx.out.json(&sent)
        } else {
            ctx.out.line(id)
        };
    };
    super::result::wait_and_print(&client, id, wait.as_ref(), ctx).await
}
