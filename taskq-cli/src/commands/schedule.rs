//! `taskq schedule create|list|pause|resume|trigger|delete`: periodic schedules stored in the
//! backend, run by every worker's scheduler loop.

use serde::Serialize;
use taskq::schedule::{Catchup, Dst, Overlap, Schedule, StoredSchedule, When};
use taskq::{Envelope, Timestamp};

use crate::cli::Ctx;
use crate::error::CliError;
use crate::output::time;

/// Arguments of `taskq schedule`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Stores a schedule (or replaces the spec of the one with this id).
    Create(Box<Create>),
    /// Lists the schedules with their state and next fire times.
    List(List),
    /// Pauses a schedule: its ticks are recorded as skipped until it is resumed.
    Pause(Id),
    /// Resumes a paused schedule (the ticks missed while paused do not run).
    Resume(Id),
    /// Sends the schedule's task now, once, outside its ticks.
    Trigger(Id),
    /// Deletes a schedule (its sent tasks stay).
    Delete(Id),
}

#[derive(Debug, clap::Args)]
struct Id {
    /// The schedule's id.
    id: String,
}

#[derive(Debug, clap::Args)]
struct Create {
    /// The schedule's id.
    id: String,
    /// The registered name of the task to send.
    #[arg(long)]
    task: String,
    /// A cron expression: 5 fields, or 6 with seconds first (`"0 9 * * MON-FRI"`).
    #[arg(long, conflicts_with = "every", required_unless_present = "every")]
    cron: Option<String>,
    /// An interval instead, aligned on the epoch (`90s`, `15m`, `1h`).
    #[arg(long)]
    every: Option<String>,
    /// The time zone of the cron expression (`Europe/Berlin`; default UTC).
    #[arg(long)]
    tz: Option<String>,
    /// The task's arguments as JSON (default `{}`).
    #[arg(long, default_value = "{}")]
    args: String,
    /// The queue to send to.
    #[arg(long, default_value = taskq::DEFAULT_QUEUE)]
    queue: String,
    /// A tick while the previous run is unfinished: allow, skip or buffer_one.
    #[arg(long, default_value = "allow", value_parser = ["allow", "skip", "buffer_one"])]
    overlap: String,
    /// Missed ticks after downtime: `skip` (run the latest once) or `all` (the newest
    /// `--catchup-cap` within `--catchup-window`).
    #[arg(long, default_value = "skip", value_parser = ["skip", "all"])]
    catchup: String,
    /// With `--catchup all`: how far back missed ticks still run.
    #[arg(long, default_value = "1h")]
    catchup_window: String,
    /// With `--catchup all`: the most missed ticks run at once.
    #[arg(long, default_value_t = 10)]
    catchup_cap: u32,
    /// Daylight-saving rule: vixie (default) or literal.
    #[arg(long, default_value = "vixie", value_parser = ["vixie", "literal"])]
    dst: String,
}

#[derive(Debug, clap::Args)]
struct List {
    /// How many next fire times to show per schedule.
    #[arg(long, short = 'n', default_value_t = 3)]
    next: usize,
}

/// A schedule as `list --json` prints it.
#[derive(Debug, Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    stored: &'a StoredSchedule,
    /// The next fire times, ms since the epoch.
    next: Vec<Timestamp>,
}

fn build(c: Create) -> Result<taskq::schedule::ScheduleSpec, CliError> {
    let mut schedule = match (&c.cron, &c.every) {
        (Some(cron), _) => Schedule::cron(cron)?,
        (None, Some(every)) => Schedule::every(every)?,
        // clap requires one of them.
        (None, None) => Schedule::every("1h")?,
    };
    if let Some(tz) = &c.tz {
        schedule = schedule.tz(tz)?;
    }
    let overlap = match c.overlap.as_str() {
        "allow" => Overlap::Allow,
        "skip" => Overlap::Skip,
        "buffer_one" => Overlap::BufferOne,
        _ => Overlap::Allow,
    };
    let catchup = match c.catchup.as_str() {
        "skip" => Catchup::Skip,
        "all" => Catchup::All {
            window_ms: u64::try_from(
                taskq::schedule::parse_duration(&c.catchup_window)?.as_millis(),
            )
            .unwrap_or(u64::MAX),
            cap: c.catchup_cap,
        },
        _ => Catchup::Skip,
    };
    let dst = match c.dst.as_str() {
        "vixie" => Dst::Vixie,
        "literal" => Dst::Literal,
        _ => Dst::Vixie,
    };
    let payload = crate::parse::json_args(&c.args)?;
    let template = Envelope::new(c.task, c.queue, payload);
    Ok(schedule
        .id(&c.id)?
        .overlap(overlap)
        .catchup(catchup)
        .dst(dst)
        .run_envelope(template)?)
}

fn when(w: &When) -> String {
    match w {
        When::Cron { expr, tz } => format!("cron `{expr}` {tz}"),
        When::Every { every_ms, phase_ms } if *phase_ms == 0 => {
            format!("every {}", crate::output::span_ms(*every_ms))
        }
        When::Every { every_ms, phase_ms } => format!(
            "every {} +{}",
            crate::output::span_ms(*every_ms),
            crate::output::span_ms(*phase_ms)
        ),
    }
}

/// Runs the subcommand.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match args.action {
        Action::Create(c) => {
            let spec = build(*c)?;
            let created = client.create_schedule(&spec).await?;
            if ctx.out.is_json() {
                return ctx
                    .out
                    .json(&serde_json::json!({ "id": spec.id, "created": created }));
            }
            ctx.out.line(format_args!(
                "{} schedule `{}`: {} → task `{}` on queue `{}`",
                if created { "created" } else { "updated" },
                spec.id,
                when(&spec.when),
                spec.template.task,
                spec.template.queue
            ))
        }
        Action::List(l) => {
            let all = client.list_schedules().await?;
            let now = Timestamp::now();
            let next = |s: &StoredSchedule| {
                s.spec
                    .ticks()
                    .map(|t| t.upcoming(now, l.next))
                    .unwrap_or_default()
            };
            if ctx.out.is_json() {
                let rows: Vec<_> = all
                    .iter()
                    .map(|s| Row {
                        stored: s,
                        next: next(s),
                    })
                    .collect();
                return ctx.out.json(&rows);
            }
            ctx.out.table(
                &[
                    "ID",
                    "WHEN",
                    "TASK",
                    "PAUSED",
                    "RUNS",
                    "SKIPPED",
                    "LAST TICK",
                    "NEXT (UTC)",
                ],
                all.iter().map(|s| {
                    let skipped: u64 = s.state.skipped.values().sum();
                    vec![
                        s.spec.id.clone(),
                        when(&s.spec.when),
                        s.spec.template.task.clone(),
                        if s.state.paused { "yes" } else { "no" }.to_owned(),
                        s.state.runs.to_string(),
                        skipped.to_string(),
                        s.state
                            .last_tick
                            .map_or_else(|| "-".to_owned(), |t| time(t.as_millis())),
                        next(s)
                            .iter()
                            .map(|t| time(t.as_millis()))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ]
                }),
                "no schedules",
            )
        }
        Action::Pause(Id { id }) => pause(ctx, &client, &id, true).await,
        Action::Resume(Id { id }) => pause(ctx, &client, &id, false).await,
        Action::Trigger(Id { id }) => {
            let task = client
                .trigger_schedule(&id)
                .await?
                .ok_or_else(|| CliError::ScheduleNotFound { id: id.clone() })?;
            if ctx.out.is_json() {
                return ctx
                    .out
                    .json(&serde_json::json!({ "id": id, "task_id": task }));
            }
            ctx.out
                .line(format_args!("triggered schedule `{id}`: task {task}"))
        }
        Action::Delete(Id { id }) => {
            if !client.delete_schedule(&id).await? {
                return Err(CliError::ScheduleNotFound { id });
            }
            if ctx.out.is_json() {
                return ctx
                    .out
                    .json(&serde_json::json!({ "id": id, "deleted": true }));
            }
            ctx.out.line(format_args!("deleted schedule `{id}`"))
        }
    }
}

async fn pause(ctx: &Ctx, client: &taskq::Client, id: &str, paused: bool) -> Result<(), CliError> {
    let found = if paused {
        client.pause_schedule(id).await?
    } else {
        client.resume_schedule(id).await?
    };
    if !found {
        return Err(CliError::ScheduleNotFound { id: id.to_owned() });
    }
    if ctx.out.is_json() {
        return ctx
            .out
            .json(&serde_json::json!({ "id": id, "paused": paused }));
    }
    ctx.out.line(format_args!(
        "{} schedule `{id}`",
        if paused { "paused" } else { "resumed" }
    ))
}
