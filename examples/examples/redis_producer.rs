//! Sends tasks to the `redis_worker` process through Redis and prints their results.
//!
//! ```sh
//! TASKQ_URL=redis://127.0.0.1:6379/0 cargo run -p taskq-examples --example redis_worker
//! TASKQ_URL=redis://127.0.0.1:6379/0 cargo run -p taskq-examples --example redis_producer
//! ```
//!
//! `TASKQ_URL` defaults to `redis://127.0.0.1:6379/0` here.

use std::time::{Duration, Instant};

use taskq_examples::tasks::{add, word_count};

/// Where Redis is when `TASKQ_URL` is unset.
const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    let url = std::env::var(taskq::URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let client = taskq::Client::connect(&url).await?;
    taskq::Client::set_global(client.clone())?;

    // One task, its result awaited: woken by a notification from Redis, not by polling.
    let started = Instant::now();
    let sum = add::new(2, 3).delay().await?;
    println!("add(2, 3) = {} ({:?})", sum.get().await?, started.elapsed());

    // A countdown, a priority, a sync task.
    let later = add::new(40, 2)
        .countdown(Duration::from_millis(500))
        .priority(9)
        .delay()
        .await?;
    let words = word_count::new("the quick brown fox".into())
        .delay()
        .await?;
    println!("word_count = {}", words.get().await?);
    println!("add(40, 2) after 500 ms = {}", later.get().await?);

    // A thousand tasks in one batch (one round trip), then every result.
    let started = Instant::now();
    let handles = taskq::delay_many((0..1_000).map(|i| add::new(i, i))).await?;
    let mut total = 0;
    for h in handles {
        total += h.get().await?;
    }
    println!(
        "1,000 tasks, sum of results {total}, in {:?}",
        started.elapsed()
    );

    let stats = client.backend().queue_stats(taskq::DEFAULT_QUEUE).await?;
    println!("queue `{}` now: {stats:?}", taskq::DEFAULT_QUEUE);
    Ok(())
}
