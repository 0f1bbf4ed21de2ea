//! `taskq events [--follow] [--queue Q]`: task events from the backend's event log, which every
//! process connected to it writes (enqueued, started, succeeded, failed, retried, cancelled,
//! dead-lettered, progress). `--follow` keeps reading, woken by the backend as events are
//! written; with `--json`, one JSON object per line.

use std::time::{Duration, Instant};

use serde::Serialize;
use taskq::events::{Event, EventCursor, EventKind, EventRead, StoredEvent};
use taskq::TaskId;

use crate::cli::Ctx;
use crate::error::CliError;
use crate::output::{span_ms, time};
use crate::parse;
use crate::task_view::reason_name;

/// Events asked for per read.
const BATCH: usize = 1_000;
/// How long one read waits for a first event while following.
const WAIT: Duration = Duration::from_secs(1);
/// How often a follower without `--queue` looks for queues that appeared meanwhile.
const RELIST: Duration = Duration::from_secs(2);

/// Arguments of `taskq events`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --follow, prints the events the backend retains (its log is \
    capped per queue) and exits. With --follow, prints new events as they happen until \
    interrupted; --from-start prints the retained ones first.\n\nEach --json line carries the \
    event's `position` in its queue's log; `--after '{\"QUEUE\": \"POSITION\"}'` resumes there.\
    \n\nExamples:\n  \
    taskq events --follow --queue emails\n  \
    taskq events --follow --json --kind failed --kind dead_lettered"
)]
pub struct Args {
    /// Keep printing new events as they happen.
    #[arg(long, short)]
    follow: bool,

    /// Only these queues (repeat `--queue`; default: every queue).
    #[arg(long = "queue", short, value_name = "QUEUE")]
    queues: Vec<String>,

    /// Only events of this task.
    #[arg(long, value_name = "ID", value_parser = parse::task_id)]
    id: Option<TaskId>,

    /// Only events of this kind (repeat `--kind`): enqueued, started, progress, retried,
    /// succeeded, failed, cancelled, dead_lettered.
    #[arg(long = "kind", value_name = "KIND", value_parser = parse_kind)]
    kinds: Vec<EventKind>,

    /// Start after this cursor: a JSON object of queue to position.
    #[arg(long, value_name = "CURSOR", value_parser = parse_cursor)]
    after: Option<EventCursor>,

    /// With --follow: print the retained events first, not only new ones.
    #[arg(long, requires = "follow", conflicts_with = "after")]
    from_start: bool,

    /// Stop after printing this many events.
    #[arg(long)]
    limit: Option<usize>,
}

fn parse_kind(s: &str) -> Result<EventKind, String> {
    let s = s.trim().to_ascii_lowercase().replace('-', "_");
    EventKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "unknown event kind `{s}`: expected one of {}",
                names.join(", ")
            )
        })
}

fn parse_cursor(s: &str) -> Result<EventCursor, taskq::events::BadCursor> {
    s.parse()
}

/// One `--json` line: the event's fields and its position.
#[derive(Debug, Serialize)]
struct Line<'a> {
    position: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// Prints events.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let backend = client.backend();
    let fixed = !args.queues.is_empty();
    let mut queues = if fixed {
        args.queues.clone()
    } else {
        backend.queues().await?
    };
    let mut cursor = match (&args.after, args.follow && !args.from_start) {
        (Some(after), _) => after.clone(),
        (None, true) => backend.events_now(&queues).await?,
        (None, false) => EventCursor::default(),
    };
    let mut printed = 0usize;
    let mut listed = Instant::now();
    loop {
        if !fixed && args.follow && listed.elapsed() >= RELIST {
            // New queues are read from their oldest event: all of it is news to us.
            queues = backend.queues().await?;
            listed = Instant::now();
        }
        let batch = backend
            .read_events(EventRead {
                queues: &queues,
                after: &cursor,
                max: BATCH,
                wait: if args.follow { WAIT } else { Duration::ZERO },
            })
            .await?;
        let got = batch.len();
        for stored in &batch {
            cursor.advance(stored);
            if !wanted(&args, &stored.event) {
                continue;
            }
            print(ctx, stored)?;
            printed += 1;
            if args.limit.is_some_and(|l| printed >= l) {
                return Ok(());
            }
        }
        if !args.follow && got < BATCH {
            break;
        }
        if args.follow && queues.is_empty() && got == 0 {
            // Nothing to wait on yet: the backend returns at once, so pace the look-ups.
            tokio::time::sleep(WAIT).await;
        }
    }
    if printed == 0 && !ctx.out.is_json() {
        ctx.out.line("no events")?;
    }
    Ok(())
}

fn wanted(args: &Args, e: &Event) -> bool {
    args.id.is_none_or(|id| id == e.id) && (args.kinds.is_empty() || args.kinds.contains(&e.kind))
}

fn print(ctx: &Ctx, stored: &StoredEvent) -> Result<(), CliError> {
    let e = &stored.event;
    if ctx.out.is_json() {
        return ctx.out.json_line(&Line {
            position: &stored.position,
            event: e,
        });
    }
    let mut line = format!(
        "{}  {:<13} {}  {}  {}",
        time(e.at.as_millis()),
        e.kind.as_str(),
        e.queue,
        e.task,
        e.id
    );
    if e.attempt > 0 {
        line.push_str(&format!("  attempt {}", e.attempt));
    }
    if let Some(ms) = e.wait_ms {
        line.push_str(&format!("  waited {}", span_ms(ms)));
    }
    if let Some(ms) = e.runtime_ms {
        line.push_str(&format!("  ran {}", span_ms(ms)));
    }
    if let Some(w) = &e.worker {
        line.push_str(&format!("  on {w}"));
    }
    if let Some(r) = e.reason {
        line.push_str(&format!("  ({})", reason_name(r)));
    }
    match (e.failure, &e.detail) {
        (Some(kind), Some(d)) => line.push_str(&format!("  {kind}: {d}")),
        (None, Some(d)) => line.push_str(&format!("  {d}")),
        _ => {}
    }
    ctx.out.line(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_their_json_names() {
        assert_eq!(
            parse_kind("dead_lettered").unwrap(),
            EventKind::DeadLettered
        );
        assert_eq!(
            parse_kind("Dead-Lettered").unwrap(),
            EventKind::DeadLettered
        );
        let e = parse_kind("finished").unwrap_err();
        assert!(e.contains("expected one of enqueued, started"), "{e}");
    }

    #[test]
    fn a_json_line_is_the_event_and_its_position() {
        let e = Event::new(EventKind::Started, TaskId::new(), "t", "q").attempt(1);
        let line = serde_json::to_value(Line {
            position: "7",
            event: &e,
        })
        .unwrap();
        assert_eq!(line["position"], "7");
        assert_eq!(line["kind"], "started");
        assert_eq!(line["queue"], "q");
        assert_eq!(line["attempt"], 1);
    }
}
