//! Rate limits (GCRA), concurrency permits and circuit breakers, decided inside the fetch's
//! write transaction, so they hold across every process on the file; the same rules as the
//! in-memory backend and Redis's fetch script (see `taskq::flow`).

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use taskq::flow::{BreakerReport, BreakerSpec, BreakerState, Gate};
use taskq::TaskId;

use super::values::id_bytes;
use super::SqliteBackend;
use crate::error::StoreError;
use crate::queries::queries;

queries!("flow.sql");

/// How long a task waits when a breaker is open (looked at again within a second, so a
/// breaker closed by hand lets its tasks go soon) or half-open without a probe left for it.
const PROBE_WAIT_MS: i64 = 1_000;

/// How long a half-open breaker waits for its probes to report before giving them again.
const PROBE_TIMEOUT_MS: i64 = 60_000;

/// One circuit breaker, as stored in `breakers.state`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Breaker {
    /// `None`: closed.
    open_until: Option<i64>,
    /// Half-open: how many probes may still start.
    probes_left: Option<u32>,
    /// When the failures of the current window happened.
    failures: Vec<i64>,
    /// Half-open: when the last probe started.
    probe_at: i64,
}

impl Breaker {
    fn state(&self, wall_ms: i64) -> BreakerState {
        match (self.open_until, self.probes_left) {
            (Some(until), _) if wall_ms < until => BreakerState::Open {
                until: u64::try_from(until).unwrap_or(0),
            },
            (Some(_), left) => BreakerState::HalfOpen {
                probes_left: left.unwrap_or(0),
            },
            (None, _) => BreakerState::Closed,
        }
    }
}

fn load(conn: &Connection, queue: &str, key: &str) -> Result<Option<Breaker>, StoreError> {
    let json: Option<String> = conn
        .prepare_cached(SQL.get("breaker"))?
        .query_row(params![queue, key], |r| r.get(0))
        .optional()?;
    json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::corrupt("breakers.state", e)))
        .transpose()
}

fn store(conn: &Connection, queue: &str, key: &str, b: &Breaker) -> Result<(), StoreError> {
    let json = serde_json::to_string(b).map_err(|e| StoreError::corrupt("breakers.state", e))?;
    conn.prepare_cached(SQL.get("put_breaker"))?
        .execute(params![queue, key, json])?;
    Ok(())
}

/// What the fetch does with a candidate.
pub(crate) enum Admission {
    /// Lease it.
    Go,
    /// Back to the delayed set until then (wall ms).
    Later(i64),
    /// It waits for a permit of this concurrency key.
    Wait(String),
}

/// Decides on `id` of `queue` with `gate`, taking its permit and its rate slot when it may go.
/// Concurrency is checked before the rate, so a task that must wait uses no rate slot; a
/// half-open breaker's probe is counted only once the task passed the other limits.
pub(crate) fn admit(
    conn: &Connection,
    queue: &str,
    id: TaskId,
    gate: &Gate,
    now_ms: i64,
    now_us: i64,
) -> Result<Admission, StoreError> {
    let mut probe: Option<(String, Breaker)> = None;
    if let Some(b) = &gate.breaker {
        if let Some(mut brk) = load(conn, queue, &b.key)? {
            match brk.state(now_ms) {
                BreakerState::Open { until } => {
                    let until = i64::try_from(until).unwrap_or(i64::MAX);
                    return Ok(Admission::Later(
                        now_ms + (until - now_ms).min(PROBE_WAIT_MS),
                    ));
                }
                BreakerState::HalfOpen { .. } => {
                    let stale = now_ms.saturating_sub(brk.probe_at) > PROBE_TIMEOUT_MS;
                    let left = brk.probes_left.get_or_insert(b.spec.probes);
                    if *left == 0 && stale {
                        // Its probes never reported (their worker died): give them again.
                        *left = b.spec.probes;
                    }
                    if *left == 0 {
                        return Ok(Admission::Later(now_ms + PROBE_WAIT_MS));
                    }
                    probe = Some((b.key.clone(), brk));
                }
                _ => {}
            }
        }
    }
    if let Some(c) = &gate.concurrency {
        let held: i64 = conn
            .prepare_cached(SQL.get("held"))?
            .query_row(params![queue, c.key], |r| r.get(0))?;
        if held >= i64::from(c.max) {
            return Ok(Admission::Wait(c.key.clone()));
        }
    }
    if let Some(rate) = &gate.rate {
        let tat: Option<i64> = conn
            .prepare_cached(SQL.get("tat"))?
            .query_row(params![queue, rate.key], |r| r.get(0))
            .optional()?;
        let tat = tat.unwrap_or(now_us).max(now_us);
        let interval = i64::try_from(rate.interval_us.max(1)).unwrap_or(i64::MAX / 4);
        let tau = burst_tolerance_us(interval);
        if tat > now_us + tau {
            let at_us = tat - tau;
            return Ok(Admission::Later((at_us + 999) / 1000));
        }
        conn.prepare_cached(SQL.get("put_tat"))?.execute(params![
            queue,
            rate.key,
            tat + interval
        ])?;
    }
    if let Some(c) = &gate.concurrency {
        conn.prepare_cached(SQL.get("take_permit"))?
            .execute(params![id_bytes(id), queue, c.key])?;
    }
    if let Some((key, mut brk)) = probe {
        if let Some(left) = brk.probes_left.as_mut() {
            *left = left.saturating_sub(1);
        }
        brk.probe_at = now_ms;
        store(conn, queue, &key, &brk)?;
    }
    Ok(Admission::Go)
}

/// How far ahead of its slot a rated task may start: 50 ms worth of whole slots (none for
/// rates under 20/s), as on Redis and in memory.
fn burst_tolerance_us(interval_us: i64) -> i64 {
    50_000 / interval_us * interval_us
}

/// Forgets rate keys whose slot is in the past (they hold nothing a fresh key would not).
pub(crate) fn sweep(conn: &Connection, now_us: i64) -> Result<(), StoreError> {
    conn.prepare_cached(SQL.get("sweep_rates"))?
        .execute([now_us])?;
    Ok(())
}

fn report(
    conn: &Connection,
    queue: &str,
    key: &str,
    spec: &BreakerSpec,
    success: bool,
    wall: i64,
) -> Result<BreakerReport, StoreError> {
    let mut brk = load(conn, queue, key)?.unwrap_or_default();
    let before = brk.state(wall);
    let half_open = matches!(before, BreakerState::HalfOpen { .. });
    let cooldown = i64::try_from(spec.cooldown_ms).unwrap_or(i64::MAX / 4);
    let within = i64::try_from(spec.within_ms).unwrap_or(i64::MAX / 4);
    if success {
        if half_open {
            brk = Breaker::default();
        }
    } else if half_open {
        brk.open_until = Some(wall + cooldown);
        brk.probes_left = None;
    } else if brk.open_until.is_none() {
        brk.failures.push(wall);
        brk.failures.retain(|at| *at + within > wall);
        if brk.failures.len() >= usize::try_from(spec.failures).unwrap_or(usize::MAX) {
            brk.open_until = Some(wall + cooldown);
            brk.probes_left = None;
            brk.failures.clear();
        }
    }
    let after = brk.state(wall);
    if brk.open_until.is_none() && brk.failures.is_empty() {
        conn.prepare_cached(SQL.get("drop_breaker"))?
            .execute(params![queue, key])?;
    } else {
        store(conn, queue, key, &brk)?;
    }
    Ok(BreakerReport { before, after })
}

impl SqliteBackend {
    /// [`taskq::backend::Backend::breaker_report`].
    pub(crate) async fn breaker_report_now(
        &self,
        queue: &str,
        key: &str,
        spec: &BreakerSpec,
        success: bool,
    ) -> Result<BreakerReport, StoreError> {
        let (queue, key, spec) = (queue.to_owned(), key.to_owned(), *spec);
        self.db
            .write(move |c| report(c, &queue, &key, &spec, success, super::values::now_ms()))
            .await
    }

    /// [`taskq::backend::Backend::set_breaker`].
    pub(crate) async fn set_breaker_now(
        &self,
        queue: &str,
        key: &str,
        open_for: Option<Duration>,
    ) -> Result<(), StoreError> {
        let (queue, key) = (queue.to_owned(), key.to_owned());
        self.db
            .write(move |c| match open_for {
                Some(d) => {
                    let mut brk = load(c, &queue, &key)?.unwrap_or_default();
                    brk.open_until =
                        Some(super::values::now_ms().saturating_add(super::values::dur_ms(d)));
                    brk.probes_left = None;
                    store(c, &queue, &key, &brk)
                }
                None => {
                    c.prepare_cached(SQL.get("drop_breaker"))?
                        .execute(params![queue, key])?;
                    Ok(())
                }
            })
            .await?;
        self.db.wake.fetchers();
        Ok(())
    }

    /// [`taskq::backend::Backend::breaker_state`].
    pub(crate) async fn breaker_state_now(
        &self,
        queue: &str,
        key: &str,
    ) -> Result<BreakerState, StoreError> {
        self.db
            .read(|c| {
                Ok(load(c, queue, key)?
                    .map_or(BreakerState::Closed, |b| b.state(super::values::now_ms())))
            })
            .await
    }
}
