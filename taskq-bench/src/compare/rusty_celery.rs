#![allow(non_local_definitions)] // `#[celery::task]` expands to an impl inside a const.

//! rusty-celery (crate `celery` 0.5) with its Redis broker, as its docs teach: `#[celery::task]`,
//! `celery::app!`, `send_task`, `consume_from`.
//!
//! Settings: `prefetch_count` = the concurrency (its Redis broker runs at most that many tasks
//! at once), `acks_late` off (default: ack before running, the fast path). rusty-celery has no
//! result backend, so each task increments a counter in Redis (and the latency task pushes its
//! figure to a list); completion is read from there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::run::{rate, sends_in_flight, wall_ns, watch_counter, BoxError, Ctx};
use super::tasks_rusty_celery::{app, rc_noop, rc_stamp, DONE, LATENCY};

const WAIT: Duration = Duration::from_secs(600);

pub async fn enqueue(ctx: &Ctx, n: usize) -> Result<f64, BoxError> {
    let app = app(&ctx.url, 16).await?;
    let started = Instant::now();
    for i in 0..n as u64 {
        app.send_task(rc_noop::new(i).with_queue("cmp-rcelery-enqueue"))
            .await?;
    }
    Ok(rate(n, started.elapsed()))
}

/// One producer, 64 `send_task` calls in flight (it has no batch API), on a queue nobody
/// serves.
pub async fn enqueue_batch(ctx: &Ctx, n: usize) -> Result<f64, BoxError> {
    let app = app(&ctx.url, 16).await?;
    let started = Instant::now();
    let mut sends = futures_util::stream::iter(0..n as u64)
        .map(|i| {
            let app = app.clone();
            async move {
                app.send_task(rc_noop::new(i).with_queue("cmp-rcelery-enqueue"))
                    .await
            }
        })
        .buffer_unordered(sends_in_flight());
    while let Some(r) = sends.next().await {
        r?;
    }
    Ok(rate(n, started.elapsed()))
}

async fn counter(ctx: &Ctx) -> Result<u64, BoxError> {
    let mut c = ctx.redis().await?;
    let v: Option<u64> = redis::cmd("GET").arg(DONE).query_async(&mut c).await?;
    Ok(v.unwrap_or(0))
}

async fn send_all(app: &Arc<celery::Celery>, n: usize) -> Result<(), BoxError> {
    let mut sends = futures_util::stream::iter(0..n as u64)
        .map(|i| {
            let app = app.clone();
            async move { app.send_task(rc_noop::new(i)).await }
        })
        .buffered(64);
    while let Some(r) = sends.next().await {
        r?;
    }
    Ok(())
}

pub async fn process(ctx: &Ctx, n: usize, concurrency: usize) -> Result<(f64, f64), BoxError> {
    let app = app(&ctx.url, 16).await?;
    send_all(&app, n).await?;
    let mut worker = ctx.spawn_worker("rusty_celery", concurrency)?;
    let (first, last) = watch_counter(&mut worker, 0, n as u64, WAIT, || counter(ctx)).await?;
    let rss = worker.peak_rss_mb();
    Ok((rate(n - 1, last - first), rss))
}

pub async fn end_to_end(ctx: &Ctx, n: usize, concurrency: usize) -> Result<f64, BoxError> {
    let app = app(&ctx.url, 16).await?;
    let mut worker = ctx.spawn_worker("rusty_celery", concurrency)?;
    app.send_task(rc_noop::new(7)).await?;
    watch_counter(&mut worker, 0, 1, WAIT, || counter(ctx)).await?;
    let started = Instant::now();
    let producer = {
        let app = app.clone();
        tokio::spawn(async move { send_all(&app, n).await.map_err(|e| e.to_string()) })
    };
    let (_, last) = watch_counter(&mut worker, 1, n as u64 + 1, WAIT, || counter(ctx)).await?;
    producer.await??;
    Ok(rate(n, last - started))
}

pub async fn latency(ctx: &Ctx, samples: usize, concurrency: usize) -> Result<Vec<u64>, BoxError> {
    let app = app(&ctx.url, 16).await?;
    let mut worker = ctx.spawn_worker("rusty_celery", concurrency)?;
    let mut c = ctx.redis().await?;
    worker
        .while_alive(async {
            let mut out = Vec::with_capacity(samples + 1);
            for _ in 0..=samples {
                app.send_task(rc_stamp::new(wall_ns())).await?;
                let began = Instant::now();
                let d = loop {
                    let got: Option<u64> =
                        redis::cmd("LPOP").arg(LATENCY).query_async(&mut c).await?;
                    if let Some(d) = got {
                        break d;
                    }
                    if began.elapsed() > Duration::from_secs(30) {
                        return Err("timeout: no latency sample within 30 s".into());
                    }
                    tokio::time::sleep(Duration::from_micros(500)).await;
                };
                out.push(d);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            out.remove(0);
            Ok(out)
        })
        .await
}
