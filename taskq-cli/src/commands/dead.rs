//! `taskq dead QUEUE`: a queue's dead letters; `taskq dead requeue QUEUE` puts them back as
//! ready with a fresh attempt count, `taskq dead purge QUEUE` deletes them. Both take
//! `--reason` or `--id` to touch only some, work in chunks, and show a progress bar on a
//! terminal.

use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use taskq::backend::{Backend, DeadSelection, ListState, TaskSummary};
use taskq::{DeadLetterReason, TaskId};

use crate::cli::Ctx;
use crate::confirm::confirm;
use crate::error::CliError;
use crate::output::{plural, time};
use crate::parse;
use crate::progress;
use crate::task_view::reason_name;

/// How many dead letters one backend call moves: small enough that the bar moves and a failure
/// loses little, large enough that 100,000 take a hundred round trips.
const CHUNK: usize = 1_000;

/// Arguments of `taskq dead`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  \
        taskq dead emails --reason unknown_task\n  \
        taskq dead requeue emails --reason attempts_exhausted\n  \
        taskq dead purge emails --yes"
)]
pub struct Args {
    /// Requeue or purge instead of listing.
    #[command(subcommand)]
    action: Option<Action>,

    /// The queue whose dead letters to list.
    #[arg(required = true)]
    queue: Option<String>,

    /// Only dead letters of this reason.
    #[arg(long, value_enum)]
    reason: Option<Reason>,

    /// At most this many, oldest first.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Puts dead letters back in their queue, ready, with a fresh attempt count. Malformed
    /// messages cannot be requeued and stay.
    Requeue(Selection),
    /// Deletes dead letters.
    Purge(PurgeArgs),
}

/// Which dead letters.
#[derive(Debug, clap::Args)]
struct Selection {
    /// The queue.
    queue: String,
    /// Only dead letters of this reason.
    #[arg(long, value_enum, conflicts_with = "ids")]
    reason: Option<Reason>,
    /// Only these (repeat `--id`).
    #[arg(long = "id", value_name = "ID", value_parser = parse::task_id)]
    ids: Vec<TaskId>,
    /// At most this many, oldest first.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct PurgeArgs {
    #[command(flatten)]
    select: Selection,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    yes: bool,
}

/// Why a message is dead, as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Reason {
    /// No worker has a task of that name.
    UnknownTask,
    /// The arguments do not fit the task's parameters.
    UndecodableArguments,
    /// Not a valid message at all.
    MalformedMessage,
    /// Failed on its last allowed attempt.
    AttemptsExhausted,
}

impl From<Reason> for DeadLetterReason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::UnknownTask => DeadLetterReason::UnknownTask,
            Reason::UndecodableArguments => DeadLetterReason::UndecodableArguments,
            Reason::MalformedMessage => DeadLetterReason::MalformedMessage,
            Reason::AttemptsExhausted => DeadLetterReason::AttemptsExhausted,
        }
    }
}

impl Selection {
    fn backend_selection(&self) -> DeadSelection {
        match (self.reason, self.ids.is_empty()) {
            (Some(r), _) => DeadSelection::Reason(r.into()),
            (None, false) => DeadSelection::Ids(self.ids.clone()),
            (None, true) => DeadSelection::All,
        }
    }
}

#[derive(Debug, Serialize)]
struct Done<'a> {
    queue: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    requeued: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purged: Option<usize>,
}

/// Lists, requeues or purges.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    match args.action {
        Some(Action::Requeue(select)) => requeue(select, ctx).await,
        Some(Action::Purge(purge_args)) => purge(purge_args, ctx).await,
        None => {
            let queue = args.queue.unwrap_or_default();
            list(&queue, args.reason, args.limit, ctx).await
        }
    }
}

async fn list(
    queue: &str,
    reason: Option<Reason>,
    limit: usize,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let backend = client.backend();
    let wanted: Option<DeadLetterReason> = reason.map(Into::into);
    let mut letters: Vec<TaskSummary> = Vec::new();
    let mut cursor: Option<String> = None;
    // Filtered here, page by page, until enough match.
    while letters.len() < limit {
        let page = backend
            .list_tasks(
                queue,
                ListState::Dead,
                cursor.as_deref(),
                CHUNK.min(limit.max(1)),
            )
            .await?;
        letters.extend(
            page.items
                .into_iter()
                .filter(|t| wanted.is_none() || t.reason == wanted),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    letters.truncate(limit);
    if ctx.out.is_json() {
        return ctx.out.json(&letters);
    }
    ctx.out.table(
        &["ID", "TASK", "REASON", "DEAD SINCE", "ERROR"],
        letters.iter().map(|d| {
            vec![
                d.id.to_string(),
                d.envelope
                    .as_ref()
                    .map_or_else(|| "?".to_owned(), |e| e.task.clone()),
                d.reason.map(reason_name).unwrap_or_default(),
                d.dead_at.map(|t| time(t.as_millis())).unwrap_or_default(),
                d.error.clone().unwrap_or_default(),
            ]
        }),
        &format!("no dead letters in queue `{queue}`"),
    )
}

/// What a chunked operation does to one chunk.
#[derive(Clone, Copy)]
enum Op {
    Requeue,
    Purge,
}

/// Applies `op` to the selected dead letters, `CHUNK` at a time, with a bar on stderr.
async fn chunked(
    backend: &dyn Backend,
    select: &Selection,
    op: Op,
    message: &'static str,
) -> Result<usize, CliError> {
    let queue = select.queue.as_str();
    let selection = select.backend_selection();
    let dead = backend.queue_stats(queue).await?.dead;
    let known_total = match &selection {
        DeadSelection::All => Some(dead),
        DeadSelection::Ids(ids) => Some(ids.len().min(dead)),
        _ => None,
    };
    let total = match (known_total, select.limit) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, _) => t,
    };
    let bar = progress::bar(total.map(progress::units), message);
    let mut done = 0usize;
    let mut remaining = select.limit.unwrap_or(usize::MAX);
    while remaining > 0 {
        let n = CHUNK.min(remaining);
        let moved = match op {
            Op::Requeue => backend.requeue_dead(queue, &selection, n).await,
            Op::Purge => backend.purge_dead(queue, &selection, n).await,
        };
        let moved = match moved {
            Ok(m) => m,
            Err(e) => {
                bar.abandon();
                return Err(e.into());
            }
        };
        done += moved;
        remaining -= moved.min(remaining);
        bar.inc(progress::units(moved));
        if moved < n {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(done)
}

async fn requeue(select: Selection, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let requeued = chunked(client.backend().as_ref(), &select, Op::Requeue, "requeuing").await?;
    let queue = select.queue.as_str();
    if ctx.out.is_json() {
        return ctx.out.json(&Done {
            queue,
            requeued: Some(requeued),
            purged: None,
        });
    }
    ctx.out.line(format_args!(
        "requeued {} of queue `{queue}`",
        plural(requeued, "dead letter", "dead letters")
    ))
}

async fn purge(args: PurgeArgs, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let select = &args.select;
    let queue = select.queue.as_str();
    let which = match (select.reason, select.ids.len()) {
        (Some(r), _) => format!(
            "the dead letters of queue `{queue}` with reason `{}`",
            reason_name(r.into())
        ),
        (None, 0) => {
            let dead = client.backend().queue_stats(queue).await?.dead;
            format!(
                "{} of queue `{queue}`",
                plural(dead, "dead letter", "dead letters")
            )
        }
        (None, n) => format!(
            "{} of queue `{queue}`",
            plural(n, "dead letter", "dead letters")
        ),
    };
    confirm(
        args.yes,
        &format!("Delete {which}?"),
        &format!("delete {which}"),
    )?;
    let purged = chunked(client.backend().as_ref(), select, Op::Purge, "purging").await?;
    if ctx.out.is_json() {
        return ctx.out.json(&Done {
            queue,
            requeued: None,
            purged: Some(purged),
        });
    }
    ctx.out.line(format_args!(
        "purged {} of queue `{queue}`",
        plural(purged, "dead letter", "dead letters")
    ))
}
