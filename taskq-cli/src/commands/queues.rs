//! `taskq queues`: one row per queue with its ready, scheduled, leased and dead counts, whether
//! it is paused, and how long its oldest ready task has waited.

use serde::Serialize;
use taskq::backend::QueueStats;
use taskq::Timestamp;

use crate::cli::Ctx;
use crate::error::CliError;
use crate::output::{count, span_ms};

/// Arguments of `taskq queues`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these queues (default: every queue the backend knows).
    #[arg(value_name = "QUEUE")]
    queues: Vec<String>,
}

/// One queue's row.
#[derive(Debug, Serialize)]
struct Row {
    queue: String,
    ready: usize,
    scheduled: usize,
    leased: usize,
    dead: usize,
    paused: bool,
    /// When the oldest ready task became ready, in ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    oldest_ready: Option<Timestamp>,
}

impl Row {
    fn new(queue: String, stats: QueueStats) -> Self {
        Self {
            queue,
            ready: stats.ready,
            scheduled: stats.delayed,
            leased: stats.running,
            dead: stats.dead,
            paused: stats.paused,
            oldest_ready: stats.oldest_ready,
        }
    }
}

/// Prints the table.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let backend = client.backend();
    let names = if args.queues.is_empty() {
        backend.queues().await?
    } else {
        args.queues
    };
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        let stats = backend.queue_stats(&name).await?;
        rows.push(Row::new(name, stats));
    }
    if ctx.out.is_json() {
        return ctx.out.json(&rows);
    }
    let now = Timestamp::now().as_millis();
    ctx.out.table(
        &[
            "QUEUE",
            "READY",
            "SCHEDULED",
            "LEASED",
            "DEAD",
            "PAUSED",
            "OLDEST READY",
        ],
        rows.iter().map(|r| {
            vec![
                r.queue.clone(),
                count(r.ready),
                count(r.scheduled),
                count(r.leased),
                count(r.dead),
                if r.paused { "yes" } else { "no" }.to_owned(),
                r.oldest_ready.map_or_else(
                    || "-".to_owned(),
                    |t| span_ms(now.saturating_sub(t.as_millis())),
                ),
            ]
        }),
        "no queues",
    )
}
