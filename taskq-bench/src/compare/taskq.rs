//! taskq on Redis, through its public API: `#[taskq::task]`, `.delay_on()`, handles, and a
//! `Worker` in a worker process of its own.

use std::time::{Duration, Instant};

use taskq::Client;

use futures_util::StreamExt;

use super::run::{batches_in_flight, rate, wall_ns, BoxError, Ctx};
use super::tasks_taskq::{noop, stamp};

const WAIT: Duration = Duration::from_secs(600);

/// One producer, one `.delay()` awaited at a time, on a queue nobody serves.
pub async fn enqueue(ctx: &Ctx, n: usize) -> Result<f64, BoxError> {
    let client = Client::connect(&ctx.url).await?;
    let started = Instant::now();
    for i in 0..n as u64 {
        noop::new(i)
            .queue("cmp-enqueue")
            .ignore_result()
            .delay_on(&client)
            .await?;
    }
    Ok(rate(n, started.elapsed()))
}

/// One producer, `send_many` of 1,000 tasks at a time (one round trip each), a few batches in
/// flight, on a queue nobody serves.
pub async fn enqueue_batch(ctx: &Ctx, n: usize) -> Result<f64, BoxError> {
    let client = Client::connect(&ctx.url).await?;
    let ids: Vec<u64> = (0..n as u64).collect();
    let started = Instant::now();
    let mut sends = futures_util::stream::iter(ids.chunks(1_000))
        .map(|chunk| {
            client.send_many(
                chunk
                    .iter()
                    .map(|i| noop::new(*i).queue("cmp-enqueue").ignore_result()),
            )
        })
        .buffer_unordered(batches_in_flight());
    while let Some(r) = sends.next().await {
        r?;
    }
    Ok(rate(n, started.elapsed()))
}

/// N tasks queued first, then one worker process drains them; every result read back in order.
/// Timed from the first result to the last (worker start-up excluded, as for every system).
pub async fn process(ctx: &Ctx, n: usize, concurrency: usize) -> Result<(f64, f64), BoxError> {
    let client = Client::connect(&ctx.url).await?;
    let handles = crate::scenarios::send_batched(&client, n, noop::new).await?;
    let mut worker = ctx.spawn_worker("taskq", concurrency)?;
    let elapsed = worker
        .while_alive(async {
            let mut first = None;
            for (i, h) in handles.into_iter().enumerate() {
                let got = h.get_timeout(WAIT).await?;
                if got != i as u64 {
                    return Err(format!("task {i} returned {got}").into());
                }
                if first.is_none() {
                    first = Some(Instant::now());
                }
            }
            Ok(first.map_or(Duration::ZERO, |f| f.elapsed()))
        })
        .await?;
    let rss = worker.peak_rss_mb();
    drop(worker);
    Ok((rate(n - 1, elapsed), rss))
}

/// Producer and worker together: up to 64 `.delay()` calls in flight, every handle awaited
/// and its value checked.
pub async fn end_to_end(ctx: &Ctx, n: usize, concurrency: usize) -> Result<f64, BoxError> {
    let client = Client::connect(&ctx.url).await?;
    let mut worker = ctx.spawn_worker("taskq", concurrency)?;
    let elapsed = worker
        .while_alive(async {
            // Ready: one task through.
            noop::new(7)
                .delay_on(&client)
                .await?
                .get_timeout(WAIT)
                .await?;
            crate::scenarios::send_and_await(&client, n, 64, WAIT, noop::new).await
        })
        .await?;
    Ok(rate(n, elapsed))
}

/// Enqueue -> start, one task at a time with an idle worker: the task reports it.
pub async fn latency(ctx: &Ctx, samples: usize, concurrency: usize) -> Result<Vec<u64>, BoxError> {
    let client = Client::connect(&ctx.url).await?;
    let mut worker = ctx.spawn_worker("taskq", concurrency)?;
    worker
        .while_alive(async {
            stamp::new(wall_ns())
                .delay_on(&client)
                .await?
                .get_timeout(WAIT)
                .await?;
            let mut out = Vec::with_capacity(samples);
            for _ in 0..samples {
                let h = stamp::new(wall_ns()).delay_on(&client).await?;
                out.push(h.get_timeout(WAIT).await?);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Ok(out)
        })
        .await
}
