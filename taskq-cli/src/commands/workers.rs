//! `taskq workers`: the live workers, from their heartbeats. A worker that stops sending them
//! (killed) disappears within a few heartbeat intervals; a warm shutdown removes it at once.

use taskq::Timestamp;

use crate::cli::Ctx;
use crate::error::CliError;
use crate::output::{count, span_ms};

/// Arguments of `taskq workers`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also list the tasks each worker is running.
    #[arg(long, short)]
    tasks: bool,
}

/// Prints the table.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let workers = client.workers().await?;
    if ctx.out.is_json() {
        return ctx.out.json(&workers);
    }
    let now = Timestamp::now().as_millis();
    let ago = |t: Timestamp| span_ms(now.saturating_sub(t.as_millis()));
    let clamp = |n: u64| count(usize::try_from(n).unwrap_or(usize::MAX));
    ctx.out.table(
        &[
            "WORKER",
            "HOST",
            "PID",
            "QUEUES",
            "RUNNING",
            "PROCESSED",
            "FAILED",
            "UP",
            "LAST SEEN",
            "VERSION",
        ],
        workers.iter().map(|w| {
            vec![
                w.id.clone(),
                w.host.clone(),
                w.pid.to_string(),
                w.queues.join(","),
                format!("{}/{}", w.running.len(), w.concurrency),
                clamp(w.processed),
                clamp(w.failed),
                ago(w.started_at),
                format!("{} ago", ago(w.heartbeat_at)),
                w.version.clone(),
            ]
        }),
        "no live workers",
    )?;
    if args.tasks {
        let running = workers.iter().flat_map(|w| {
            w.running.iter().map(move |t| {
                vec![
                    w.id.clone(),
                    t.id.to_string(),
                    t.task.clone(),
                    t.queue.clone(),
                    t.attempt.to_string(),
                    ago(t.started_at),
                ]
            })
        });
        ctx.out.table(
            &[
                "WORKER",
                "TASK ID",
                "TASK",
                "QUEUE",
                "ATTEMPT",
                "RUNNING FOR",
            ],
            running,
            "no task running",
        )?;
    }
    Ok(())
}
