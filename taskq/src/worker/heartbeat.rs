//! The worker's heartbeat: every interval it tells the backend who it is and what it runs,
//! under a TTL of three intervals, so a worker that dies without a word (SIGKILL, a lost
//! machine) drops out of `Client::workers()` within three intervals; a warm shutdown removes
//! it at once.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::backend::{RunningTask, WorkerInfo};
use crate::error::BackendError;
use crate::message::Timestamp;

/// How many intervals a heartbeat lives.
const LIVES: u32 = 3;

/// The name of this machine, for worker ids and heartbeats (no extra crate: Linux has it in
/// procfs, other systems in the environment).
pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A worker id: `host:pid:random`, unique per run.
pub(super) fn worker_id(host: &str) -> String {
    let n = fastrand::u32(..);
    format!("{host}:{}:{n:08x}", std::process::id())
}

/// This worker as its heartbeat describes it now.
fn describe(shared: &Shared) -> WorkerInfo {
    let mut info = shared.about.clone();
    info.heartbeat_at = Timestamp::now();
    let c = &shared.counters;
    let succeeded = c.succeeded.load(Ordering::Relaxed);
    let failed = c.failed.load(Ordering::Relaxed);
    let retried = c.retried.load(Ordering::Relaxed);
    let rejected = c.rejected.load(Ordering::Relaxed);
    info.processed = succeeded + failed + retried + rejected;
    info.failed = failed + retried + rejected;
    let running = shared.running.lock().unwrap_or_else(|e| e.into_inner());
    info.running = running
        .values()
        .filter_map(|r| {
            Some(RunningTask {
                id: r.lease.id,
                task: r.task.as_ref()?.to_string(),
                queue: r.lease.queue.clone(),
                attempt: r.lease.attempt,
                started_at: r.started_at?,
            })
        })
        .collect();
    info
}

/// Beats until `stop`, then removes the worker. A backend without a worker registry is told
/// once and left alone.
pub(super) async fn beat(shared: Arc<Shared>, interval: Duration, stop: CancellationToken) {
    let backend = shared.client.backend().clone();
    let ttl = interval * LIVES;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        match backend.heartbeat(&describe(&shared), ttl).await {
            Ok(()) => {}
            Err(BackendError::Unsupported { .. }) => {
                tracing::debug!(
                    backend = backend.name(),
                    "the backend keeps no worker registry; no heartbeats"
                );
                return;
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
        }
    }
    if let Err(e) = backend.remove_worker(&shared.about.id).await {
        tracing::warn!(error = %e, "could not remove the worker from the registry; it drops out when its heartbeat expires");
    }
}
