//! `taskq revoke ID`: a task that has not started never will; a running one is told to stop at
//! its worker's next lease extension.

use serde::Serialize;
use taskq::backend::CancelOutcome;
use taskq::TaskId;

use crate::cli::Ctx;
use crate::error::CliError;
use crate::parse;
use crate::task_view::state_name;

/// Arguments of `taskq revoke`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status 1 when the backend does not know the id, or the task has \
    already finished."
)]
pub struct Args {
    /// The task's id.
    #[arg(value_parser = parse::task_id)]
    id: TaskId,

    /// Revoke even an id the backend does not know yet (a workflow whose last step has not been
    /// published): it is marked cancelled, so it never runs.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Serialize)]
struct Revoked {
    id: TaskId,
    /// `removed` (it will not run) or `signalled` (running; told to stop).
    outcome: &'static str,
}

/// Revokes it.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let id = args.id;
    match client.backend().record(id).await? {
        None if !args.force => return Err(CliError::TaskNotFound { id }),
        Some(r) if r.state.is_final() => {
            return Err(CliError::AlreadyFinished {
                id,
                state: state_name(r.state),
            })
        }
        _ => {}
    }
    let (outcome, text) = match client.revoke(id).await? {
        CancelOutcome::Removed => ("removed", format!("revoked {id}: it will not run")),
        CancelOutcome::Signalled => (
            "signalled",
            format!("revoked {id}: it is running; its worker stops it at its next lease extension"),
        ),
        // Finished between the look-up and the revocation.
        _ => return Err(CliError::TaskNotFound { id }),
    };
    if ctx.out.is_json() {
        ctx.out.json(&Revoked { id, outcome })
    } else {
        ctx.out.line(text)
    }
}
