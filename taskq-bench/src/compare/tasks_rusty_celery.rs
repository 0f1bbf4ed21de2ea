#![allow(non_local_definitions)] // `#[celery::task]` expands to an impl inside a const.

//! rusty-celery's side of the comparison that its worker binary needs too: the tasks, the app
//! and the worker.

use std::sync::{Arc, OnceLock};

use celery::prelude::*;

use super::worker_common::{wall_ns, BoxError};

pub const QUEUE: &str = "cmp-rcelery";
pub const DONE: &str = "cmp:rcelery:done";
pub const LATENCY: &str = "cmp:rcelery:latency";

static CONN: OnceLock<redis::aio::MultiplexedConnection> = OnceLock::new();

async fn record(cmd: redis::Cmd) -> TaskResult<()> {
    let mut c = CONN
        .get()
        .cloned()
        .ok_or_else(|| TaskError::UnexpectedError("no redis connection".into()))?;
    cmd.query_async::<()>(&mut c)
        .await
        .map_err(|e| TaskError::UnexpectedError(e.to_string()))
}

/// A no-op task: returns `n` and counts itself done.
#[celery::task(name = "cmp.rc_noop")]
pub async fn rc_noop(n: u64) -> TaskResult<u64> {
    record(redis::cmd("INCR").arg(DONE).clone()).await?;
    Ok(n)
}

/// Reports how long after `sent_ns` it started.
#[celery::task(name = "cmp.rc_stamp")]
pub async fn rc_stamp(sent_ns: u64) -> TaskResult<u64> {
    let d = wall_ns().saturating_sub(sent_ns);
    record(redis::cmd("RPUSH").arg(LATENCY).arg(d).clone()).await?;
    Ok(d)
}

pub async fn app(url: &str, prefetch: u16) -> Result<Arc<celery::Celery>, BoxError> {
    Ok(celery::app!(
        broker = RedisBroker { url.to_owned() },
        tasks = [rc_noop, rc_stamp],
        task_routes = ["*" => QUEUE],
        prefetch_count = prefetch,
        acks_late = false,
    )
    .await?)
}

/// The worker process.
pub async fn worker(url: &str, concurrency: usize) -> Result<(), BoxError> {
    let client = redis::Client::open(url)?;
    let _ = CONN.set(client.get_multiplexed_async_connection().await?);
    let app = app(url, u16::try_from(concurrency).unwrap_or(u16::MAX)).await?;
    app.consume_from(&[QUEUE]).await?;
    Ok(())
}
