//! Periodic schedules, fleet-wide limits and unique tasks, on the in-memory backend.
//!
//! Every worker runs the scheduler; each tick runs once across the fleet, whatever the number
//! of workers (on Redis, `cargo run -p taskq-examples --example periodic` in three terminals
//! with `TASKQ_URL=redis://127.0.0.1:6379/0` still prints each tick once).

use std::time::Duration;

use taskq::unique::Enqueued;

/// Every weekday at 09:00 in Berlin, daylight saving time included; skipped if yesterday's
/// run has not finished.
#[taskq::task(cron = "0 9 * * MON-FRI", tz = "Europe/Berlin", overlap = "skip")]
async fn standup() {
    println!("stand-up reminder sent");
}

/// Every second (six fields: seconds first).
#[taskq::task(cron = "* * * * * *")]
async fn heartbeat() {
    println!("tick");
}

/// A task with arguments: scheduled on the worker builder below.
#[taskq::task]
async fn report(region: String) -> String {
    format!("report for {region}")
}

/// At most 2 per second per customer and 1 at a time, across every worker.
#[taskq::task(rate_limit = "2/s", rate_limit_key = "customer", concurrency = 1)]
async fn sync_customer(customer: u64) -> u64 {
    customer
}

/// One refresh per account at a time: a second send while one waits returns the first.
#[taskq::task(unique_for = "10m")]
async fn refresh(account: u64) -> u64 {
    account
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let every_two_seconds = taskq::Schedule::every("2s")?
        .id("report-eu")?
        .run(report::new("eu".into()))?;
    let worker = taskq::Worker::builder()
        .schedule(every_two_seconds)
        .spawn()?;

    let first = refresh(7).delay().await?;
    let second = refresh(7).delay().await?;
    assert_eq!(first.enqueued(), Enqueued::New);
    assert_eq!(second.enqueued(), Enqueued::Existing);
    assert_eq!(first.id(), second.id());
    println!(
        "refresh(7) sent twice, enqueued once: {}",
        first.get().await?
    );

    let started = std::time::Instant::now();
    let calls = taskq::delay_many((0..3).map(|_| sync_customer::new(42))).await?;
    for call in calls {
        call.get().await?;
    }
    println!(
        "three syncs of one customer at 2/s took {:.1} s",
        started.elapsed().as_secs_f64()
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    let client = taskq::Client::global().await?;
    for s in client.list_schedules().await? {
        println!(
            "schedule {}: {} runs, {} skipped",
            s.spec.id,
            s.state.runs,
            s.state.skipped.values().sum::<u64>()
        );
    }
    worker.shutdown().await?;
    Ok(())
}
