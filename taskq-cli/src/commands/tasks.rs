//! `taskq tasks QUEUE --state S`: one page of a queue's tasks in one state, with the cursor of
//! the next page.

use serde::Serialize;
use taskq::backend::{ListState, TaskSummary};
use taskq::Timestamp;

use crate::cli::Ctx;
use crate::error::CliError;
use crate::output::{count, span_ms, time};
use crate::task_view::reason_name;

/// Arguments of `taskq tasks`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "States: ready (highest priority first, then oldest), scheduled \
    (soonest first), leased (with the worker and lease deadline), dead.\n\nExamples:\n  \
    taskq tasks emails --state leased\n  \
    taskq tasks emails --state ready --limit 20 --cursor 20"
)]
pub struct Args {
    /// The queue.
    queue: String,

    /// Which tasks: ready, scheduled, leased or dead.
    #[arg(long, short, default_value = "ready", value_parser = parse_state)]
    state: ListState,

    /// At most this many.
    #[arg(long, default_value_t = 50)]
    limit: usize,

    /// Start after this cursor (the `next` of the previous page).
    #[arg(long)]
    cursor: Option<String>,
}

fn parse_state(s: &str) -> Result<ListState, taskq::backend::UnknownListState> {
    s.parse()
}

#[derive(Debug, Serialize)]
struct Listing<'a> {
    queue: &'a str,
    state: ListState,
    items: &'a [TaskSummary],
    /// The cursor of the next page, if there is one.
    next: Option<&'a str>,
    /// How many there are in all, when the backend knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<usize>,
}

/// Prints the page.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let page = client
        .backend()
        .list_tasks(
            &args.queue,
            args.state,
            args.cursor.as_deref(),
            args.limit.max(1),
        )
        .await?;
    if ctx.out.is_json() {
        return ctx.out.json(&Listing {
            queue: &args.queue,
            state: args.state,
            items: &page.items,
            next: page.next.as_deref(),
            total: page.total,
        });
    }
    let now = Timestamp::now().as_millis();
    let rel = |t: Timestamp| {
        let ms = t.as_millis();
        if ms >= now {
            format!("in {}", span_ms(ms - now))
        } else {
            format!("{} ago", span_ms(now - ms))
        }
    };
    let (extra, empty): (&[&str], _) = match args.state {
        ListState::Ready => (&["WAITING"], "ready"),
        ListState::Scheduled => (&["DUE"], "scheduled"),
        ListState::Leased => (&["WORKER", "LEASE UNTIL"], "leased"),
        _ => (&["REASON", "DEAD SINCE", "ERROR"], "dead"),
    };
    let mut header = vec!["ID", "TASK", "PRIORITY", "ATTEMPT"];
    header.extend_from_slice(extra);
    let rows = page.items.iter().map(|t| {
        let env = t.envelope.as_ref();
        let mut row = vec![
            t.id.to_string(),
            env.map_or_else(|| "?".to_owned(), |e| e.task.clone()),
            env.map_or_else(String::new, |e| e.priority.to_string()),
            env.map_or_else(String::new, |e| format!("{}/{}", e.attempt, e.max_attempts)),
        ];
        match t.state {
            ListState::Ready => row.push(env.map_or_else(String::new, |e| {
                span_ms(now.saturating_sub(e.enqueued_at.as_millis()))
            })),
            ListState::Scheduled => row.push(t.due_at.map(rel).unwrap_or_default()),
            ListState::Leased => {
                row.push(t.worker.clone().unwrap_or_else(|| "?".to_owned()));
                row.push(t.lease_deadline.map(rel).unwrap_or_default());
            }
            _ => {
                row.push(t.reason.map(reason_name).unwrap_or_default());
                row.push(t.dead_at.map(|d| time(d.as_millis())).unwrap_or_default());
                row.push(t.error.clone().unwrap_or_default());
            }
        }
        row
    });
    ctx.out.table(
        &header,
        rows,
        &format!("no {empty} tasks in queue `{}`", args.queue),
    )?;
    if let Some(next) = &page.next {
        let of = page
            .total
            .map(|t| format!(" of {}", count(t)))
            .unwrap_or_default();
        ctx.out.line(format_args!(
            "showing {}{of}; next page: taskq tasks {} --state {} --cursor {next}",
            count(page.items.len()),
            args.queue,
            args.state
        ))?;
    }
    Ok(())
}
