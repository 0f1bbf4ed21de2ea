//! `taskq breaker status|open|close TASK`: a task type's circuit breaker, fleet-wide (see
//! `taskq::flow`). Forcing one open stops every worker from starting that task's tasks (they
//! stay queued, using no attempts); closing it lets them go within a second.

use serde::Serialize;

use crate::cli::Ctx;
use crate::error::CliError;
use crate::parse::{self, Span};

/// Arguments of `taskq breaker`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

/// What to do with the breaker.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Prints the breaker's state: closed, open until a time, or half-open.
    Status(Target),
    /// Forces it open: no task of the type starts until `--for` has passed or it is closed.
    Open {
        #[command(flatten)]
        target: Target,
        /// How long it stays open.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse::duration, default_value = "1h")]
        open_for: Span,
    },
    /// Forces it closed: the task's tasks start again.
    Close(Target),
}

/// Which breaker.
#[derive(Debug, clap::Args)]
struct Target {
    /// The task's registered name (a breaker's key).
    task: String,
    /// The queue the task is sent to (breakers hold per queue).
    #[arg(long, default_value = "default")]
    queue: String,
}

/// What `breaker` prints with `--json`.
#[derive(Debug, Serialize)]
struct Shown<'a> {
    task: &'a str,
    queue: &'a str,
    #[serde(flatten)]
    state: taskq::flow::BreakerState,
}

/// Runs the action.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let backend = client.backend();
    let target = match &args.action {
        Action::Status(t) | Action::Close(t) => t,
        Action::Open { target, .. } => target,
    };
    match &args.action {
        Action::Status(_) => {}
        Action::Open { open_for, .. } => {
            backend
                .set_breaker(&target.queue, &target.task, Some(open_for.duration))
                .await?
        }
        Action::Close(_) => {
            backend
                .set_breaker(&target.queue, &target.task, None)
                .await?
        }
    }
    let state = backend.breaker_state(&target.queue, &target.task).await?;
    if ctx.out.is_json() {
        return ctx.out.json(&Shown {
            task: &target.task,
            queue: &target.queue,
            state,
        });
    }
    let said = match state {
        taskq::flow::BreakerState::Closed => "closed: its tasks start".to_owned(),
        taskq::flow::BreakerState::Open { until } => format!(
            "open until {}: none of its tasks start",
            crate::output::time(until)
        ),
        taskq::flow::BreakerState::HalfOpen { .. } => {
            "half-open: a probe may start, its result decides".to_owned()
        }
        _ => format!("{state:?}"),
    };
    ctx.out.line(format_args!(
        "breaker of `{}` on queue `{}`: {said}",
        target.task, target.queue
    ))
}
