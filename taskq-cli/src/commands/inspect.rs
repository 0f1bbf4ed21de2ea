//! `taskq inspect ID`: everything the backend knows of one task.

use taskq::backend::TaskDetail;
use taskq::{Outcome, TaskId, Timestamp};

use crate::cli::Ctx;
use crate::error::CliError;
use crate::output::{span_ms, time};
use crate::parse;
use crate::task_view::{reason_name, state_name};

/// Arguments of `taskq inspect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status 1 when the backend does not know the id.")]
pub struct Args {
    /// The task's id.
    #[arg(value_parser = parse::task_id)]
    id: TaskId,
}

/// Prints the record.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let detail = client
        .inspect(args.id)
        .await?
        .ok_or(CliError::TaskNotFound { id: args.id })?;
    if ctx.out.is_json() {
        return ctx.out.json(&detail);
    }
    ctx.out.record(fields(&detail))
}

/// The rows of the record, skipping what is not known.
fn fields(d: &TaskDetail) -> Vec<(&'static str, String)> {
    let now = Timestamp::now().as_millis();
    let when = |t: Timestamp| {
        let ms = t.as_millis();
        if ms >= now {
            format!("{} (in {})", time(ms), span_ms(ms - now))
        } else {
            format!("{} ({} ago)", time(ms), span_ms(now - ms))
        }
    };
    let mut rows = vec![
        ("id", d.id.to_string()),
        ("state", state_name(d.state).to_owned()),
    ];
    let mut push = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            rows.push((k, v));
        }
    };
    push("task", d.task.clone());
    push("queue", d.queue.clone());
    push("arguments", d.args.as_ref().map(|a| a.as_str().to_owned()));
    if let Some(env) = &d.envelope {
        push("priority", Some(env.priority.to_string()));
        push(
            "attempt",
            Some(format!("{} of {}", d.attempt, env.max_attempts)),
        );
        push("parent", env.parent_id.map(|p| p.to_string()));
        push("root", env.root_id.map(|r| r.to_string()));
        push("expires", env.expires.map(when));
    } else if d.attempt > 0 {
        push("attempt", Some(d.attempt.to_string()));
    }
    match &d.outcome {
        Some(Outcome::Success(value)) => push("result", Some(value.as_str().to_owned())),
        Some(Outcome::Failure(f)) => push("error", Some(f.to_string())),
        None => {}
    }
    push(
        "progress",
        d.progress.as_ref().map(|p| p.as_str().to_owned()),
    );
    push("dead reason", d.dead_reason.map(reason_name));
    push("worker", d.worker.clone());
    push("created", d.created_at.map(when));
    push("due", d.due_at.map(when));
    push("started", d.started_at.map(when));
    push("lease until", d.lease_deadline.map(when));
    push("finished", d.finished_at.map(when));
    if let (Some(s), Some(f)) = (d.started_at, d.finished_at) {
        push(
            "run time",
            Some(span_ms(f.as_millis().saturating_sub(s.as_millis()))),
        );
    }
    rows
}
