//! One file per subcommand, each with its clap `Args` and its `run`.

mod breaker;
mod completions;
mod dead;
mod events;
mod inspect;
mod pause;
mod purge;
mod queues;
mod result;
mod resume;
mod revoke;
mod schedule;
mod send;
mod start_workflow;
mod tasks;
mod token;
mod web;
mod workers;

use clap::Subcommand;

use crate::cli::Ctx;
use crate::error::CliError;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// A table of every queue: ready, scheduled, leased and dead tasks, and whether it is paused.
    Queues(queues::Args),
    /// The live workers: host, pid, queues, concurrency, what they run, processed and failed.
    Workers(workers::Args),
    /// Everything the backend knows of one task: arguments, attempts, result or error, times.
    Inspect(inspect::Args),
    /// A task's result, or its state if it has not finished; `--wait` waits for it.
    Result(result::Args),
    /// Revokes a task: one not started never runs, a running one is told to stop.
    Revoke(revoke::Args),
    /// Lists a queue's tasks in one state (ready, scheduled, leased, dead).
    Tasks(tasks::Args),
    /// Lists a queue's dead letters, or requeues or purges them.
    Dead(dead::Args),
    /// Pauses a queue fleet-wide: workers stop fetching from it; nothing is lost.
    Pause(pause::Args),
    /// Resumes a paused queue.
    Resume(resume::Args),
    /// Deletes every ready and scheduled task of a queue.
    Purge(purge::Args),
    /// Prints task events (enqueued, started, succeeded, ...); `--follow` keeps printing.
    Events(events::Args),
    /// Sends a task by name with JSON arguments.
    Send(send::Args),
    /// Starts a registered workflow by name with JSON arguments.
    StartWorkflow(start_workflow::Args),
    /// Periodic schedules: create, list (with the next fire times), pause, resume, trigger,
    /// delete.
    Schedule(schedule::Args),
    /// A task type's circuit breaker: status, or force it open or closed, fleet-wide.
    Breaker(breaker::Args),
    /// Serves taskq-web's REST API and live dashboard for this backend.
    Web(web::Args),
    /// Makes API tokens for `taskq web` and taskq-web (`token create --role operator`).
    Token(token::Args),
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
}

/// Runs `command`.
pub async fn run(command: Command, ctx: &Ctx) -> Result<(), CliError> {
    match command {
        Command::Queues(a) => queues::run(a, ctx).await,
        Command::Workers(a) => workers::run(a, ctx).await,
        Command::Inspect(a) => inspect::run(a, ctx).await,
        Command::Result(a) => result::run(a, ctx).await,
        Command::Revoke(a) => revoke::run(a, ctx).await,
        Command::Tasks(a) => tasks::run(a, ctx).await,
        Command::Dead(a) => dead::run(a, ctx).await,
        Command::Pause(a) => pause::run(a, ctx).await,
        Command::Resume(a) => resume::run(a, ctx).await,
        Command::Purge(a) => purge::run(a, ctx).await,
        Command::Events(a) => events::run(a, ctx).await,
        Command::Send(a) => send::run(a, ctx).await,
        Command::StartWorkflow(a) => start_workflow::run(a, ctx).await,
        Command::Schedule(a) => schedule::run(a, ctx).await,
        Command::Breaker(a) => breaker::run(a, ctx).await,
        Command::Web(a) => web::run(a, ctx).await,
        Command::Token(a) => token::run(a, ctx),
        Command::Completions(a) => completions::run(a),
    }
}
