//! apalis 1.0 with apalis-redis 1.0, as its README teaches: `RedisStorage`, `TaskSink::push`,
//! `WorkerBuilder::new(..).backend(storage).concurrency(n).build(handler)`.
//!
//! Settings: `Config::default().batch_size(100)` (the batch its own tests use; default 10),
//! results persisted and task locks on (defaults); the worker's storage re-polled every
//! `POLL_MS` when idle (`BackendExt::poll_with_interval`). Completion is apalis's own record: the queue's `done` set and, once
//! timed, every task's stored result read back with `WaitForCompletion::check_status` (its
//! `wait_for` polls every 100 ms and re-reads every pending id each poll, which would measure
//! the waiter rather than the worker).

use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use futures_util::StreamExt;

use super::run::{batches_in_flight, rate, wall_ns, watch_counter, BoxError, Ctx};
use super::tasks_apalis::{config, storage, Job, QUEUE};

const WAIT: Duration = Duration::from_secs(600);

fn new_id() -> TaskId {
    TaskId::from_string(ulid::Ulid::new().to_string())
}

fn task(job: Job, id: TaskId) -> Task<Job> {
    TaskBuilder::new(job).task_id(id).build()
}

pub async fn enqueue(ctx: &Ctx, n: usize) -> Result<f64, BoxError> {
    let mut s = storage(&ctx.url, "cmp-apalis-enqueue").await?;
    let started = Instant::now();
    for i in 0..n as u64 {
        s.push(Job::Noop(i))
            .await
            .map_err(|e| format!("push: {e:?}"))?;
    }
    Ok(rate(n, started.elapsed()))
}

/// One producer, `push_bulk` (apalis's bulk push) of 1,000 tasks at a time, on a queue nobody
/// serves.
pub async fn enqueue_batch(ctx: &Ctx, n: usize) -> Result<f64, BoxError> {
    let s = storage(&ctx.url, "cmp-apalis-enqueue").await?;
    let ids: Vec<u64> = (0..n as u64).collect();
    let started = Instant::now();
    let mut pushes = futures_util::stream::iter(ids.chunks(1_000))
        .map(|chunk| {
            let mut s = s.clone();
            async move {
                s.push_bulk(chunk.iter().map(|i| Job::Noop(*i)).collect())
                    .await
                    .map_err(|e| format!("push_bulk: {e:?}"))
            }
        })
        .buffer_unordered(batches_in_flight());
    while let Some(r) = pushes.next().await {
        r?;
    }
    Ok(rate(n, started.elapsed()))
}

async fn done_count(ctx: &Ctx) -> Result<u64, BoxError> {
    let mut c = ctx.redis().await?;
    let key = config(QUEUE).done_jobs_set();
    Ok(redis::cmd("SCARD")
        .arg(key)
        .query_async::<u64>(&mut c)
        .await?)
}

/// Reads every task's stored result back through apalis and checks it.
async fn verify(s: &RedisStorage<Job>, ids: &[(TaskId, u64)]) -> Result<(), BoxError> {
    let mut checks = futures_util::stream::iter(ids.chunks(500))
        .map(|chunk| {
            let mut s = s.clone();
            async move {
                let got: Vec<TaskResult<u64>> = s
                    .check_status(chunk.iter().map(|(id, _)| id.clone()))
                    .await?;
                if got.len() != chunk.len() {
                    return Err::<(), BoxError>(
                        format!("{} of {} results stored", got.len(), chunk.len()).into(),
                    );
                }
                for (r, (_, want)) in got.iter().zip(chunk) {
                    match &r.result {
                        Ok(v) if v == want => {}
                        other => return Err(format!("task {want}: {other:?}").into()),
                    }
                }
                Ok(())
            }
        })
        .buffer_unordered(8);
    while let Some(r) = checks.next().await {
        r?;
    }
    Ok(())
}

pub async fn process(ctx: &Ctx, n: usize, concurrency: usize) -> Result<(f64, f64), BoxError> {
    let mut s = storage(&ctx.url, QUEUE).await?;
    let ids: Vec<(TaskId, u64)> = (0..n as u64).map(|i| (new_id(), i)).collect();
    for chunk in ids.chunks(1_000) {
        let tasks: Vec<Task<Job>> = chunk
            .iter()
            .map(|(id, i)| task(Job::Noop(*i), id.clone()))
            .collect();
        s.push_all(futures_util::stream::iter(tasks))
            .await
            .map_err(|e| format!("push_all: {e:?}"))?;
    }
    let mut worker = ctx.spawn_worker("apalis", concurrency)?;
    let (first, last) = watch_counter(&mut worker, 0, n as u64, WAIT, || done_count(ctx)).await?;
    let rss = worker.peak_rss_mb();
    drop(worker);
    verify(&s, &ids).await?;
    Ok((rate(n - 1, last - first), rss))
}

async fn await_one(s: &mut RedisStorage<Job>, id: TaskId) -> Result<u64, BoxError> {
    let began = Instant::now();
    loop {
        let got: Vec<TaskResult<u64>> = s.check_status([id.clone()]).await?;
        if let Some(r) = got.into_iter().next() {
            return r.result.map_err(|e| format!("task failed: {e}").into());
        }
        if began.elapsed() > WAIT {
            return Err("timeout waiting for one task".into());
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

pub async fn end_to_end(ctx: &Ctx, n: usize, concurrency: usize) -> Result<f64, BoxError> {
    let mut s = storage(&ctx.url, QUEUE).await?;
    let mut worker = ctx.spawn_worker("apalis", concurrency)?;
    let id = new_id();
    s.push_task(task(Job::Noop(7), id.clone()))
        .await
        .map_err(|e| format!("push: {e:?}"))?;
    watch_counter(&mut worker, 0, 1, Duration::from_secs(60), || {
        done_count(ctx)
    })
    .await?;
    await_one(&mut s, id).await?;
    let ids: Vec<(TaskId, u64)> = (0..n as u64).map(|i| (new_id(), i)).collect();
    let started = Instant::now();
    let producer = {
        let s = s.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut sends = futures_util::stream::iter(ids)
                .map(|(id, i)| {
                    let mut s = s.clone();
                    async move { s.push_task(task(Job::Noop(i), id)).await }
                })
                .buffered(64);
            while let Some(r) = sends.next().await {
                r.map_err(|e| format!("push: {e:?}"))?;
            }
            Ok::<(), String>(())
        })
    };
    let (_, last) = watch_counter(&mut worker, 1, n as u64 + 1, WAIT, || done_count(ctx)).await?;
    producer.await??;
    let elapsed = last - started;
    drop(worker);
    verify(&s, &ids).await?;
    Ok(rate(n, elapsed))
}

pub async fn latency(ctx: &Ctx, samples: usize, concurrency: usize) -> Result<Vec<u64>, BoxError> {
    let mut s = storage(&ctx.url, QUEUE).await?;
    let mut worker = ctx.spawn_worker("apalis", concurrency)?;
    worker
        .while_alive(async {
            let mut out = Vec::with_capacity(samples + 1);
            for _ in 0..=samples {
                let id = new_id();
                s.push_task(task(Job::Stamp(wall_ns()), id.clone()))
                    .await
                    .map_err(|e| format!("push: {e:?}"))?;
                out.push(await_one(&mut s, id).await?);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            out.remove(0);
            Ok(out)
        })
        .await
}
