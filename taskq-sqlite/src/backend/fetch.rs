//! The fetch: one write transaction that puts expired leases of the asked queues back, promotes
//! their due delayed tasks, then leases ready tasks by priority then FIFO, up to the worker's
//! free slots, with the fleet-wide limits decided per task on the way (a limited task moves to
//! when its slot frees, or waits for a permit, using no attempt and no worker slot). Expired
//! messages fail as expired. The lease's fencing token is the attempt number it sets.
//!
//! When nothing is ready, the fetch sleeps until a write of this process may have made
//! something ready, until the earliest due time or lease deadline it read, or until another
//! process commits (the writer's `data_version` check): no polling within a process.

use std::collections::HashSet;
use std::time::Duration;

use rusqlite::{params_from_iter, types::Value, Connection};
use taskq::backend::FetchRequest;
use taskq::{Delivery, FailureKind, Outcome, TaskFailure, TaskId};

use super::flow::{self, Admission};
use super::rows::{self, Finished};
use super::values::{id_of, now_ms, now_us};
use super::{Ended, SqliteBackend};
use crate::error::StoreError;
use crate::queries::queries;

queries!("fetch.sql");

/// What one look at the queues found.
struct Taken {
    out: Vec<Delivery>,
    ended: Vec<Ended>,
    /// Nothing ready: when to look again at the latest (wall ms).
    next: Option<i64>,
}

/// A ready row: seq, id, queue, attempt, expiry, envelope.
type Candidate = (i64, Vec<u8>, String, i64, Option<i64>, String);

fn with_queues(sql: &str, n: usize) -> String {
    let marks: Vec<String> = (0..n).map(|i| format!("?{}", i + 2)).collect();
    sql.replace("{queues}", &marks.join(", "))
}

fn take(
    conn: &Connection,
    queues: &[String],
    max: usize,
    lease_ms: i64,
) -> Result<Taken, StoreError> {
    let now = now_ms();
    let paused: HashSet<String> = {
        let mut st = conn.prepare_cached(SQL.get("paused"))?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let open: Vec<&String> = queues.iter().filter(|q| !paused.contains(*q)).collect();
    let mut taken = Taken {
        out: Vec::new(),
        ended: Vec::new(),
        next: None,
    };
    if open.is_empty() || max == 0 {
        return Ok(taken);
    }
    for q in &open {
        let expired: Vec<TaskId> = {
            let mut st = conn.prepare_cached(SQL.get("expired_leases"))?;
            let rows = st.query_map(rusqlite::params![q, now], |r| r.get::<_, Vec<u8>>(0))?;
            let mut ids = Vec::new();
            for b in rows {
                ids.push(id_of(&b?)?);
            }
            ids
        };
        for id in expired {
            rows::to_ready(conn, id, now)?;
        }
        conn.prepare_cached(SQL.get("promote"))?
            .execute(rusqlite::params![q, now])?;
    }
    if super::retention::maybe_sweep(conn, now)?.is_some() {
        flow::sweep(conn, now_us().saturating_sub(60_000_000))?;
    }
    let candidates_sql = with_queues(SQL.get("candidates"), open.len());
    let deadline = now.saturating_add(lease_ms);
    loop {
        let want = max - taken.out.len();
        let batch: Vec<Candidate> = {
            let mut st = conn.prepare_cached(&candidates_sql)?;
            let mut args: Vec<Value> = vec![Value::Integer(i64::try_from(want + 8).unwrap_or(64))];
            args.extend(open.iter().map(|q| Value::Text((*q).clone())));
            let rows = st.query_map(params_from_iter(args), |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        if batch.is_empty() {
            break;
        }
        for (seq, id, queue, attempt, expires, env) in batch {
            if taken.out.len() >= max {
                break;
            }
            let id = id_of(&id)?;
            let env = match rows::env_of(&env, attempt) {
                Ok(env) => env,
                Err(e) => {
                    super::dead::bury_garbage(conn, seq, id, &queue, &e.to_string(), &env, now)?;
                    continue;
                }
            };
            if expires.is_some_and(|e| e <= now) {
                let failure = TaskFailure::new(
                    FailureKind::Expired,
                    "the task expired before a worker started it",
                );
                let outcome = Outcome::Failure(failure);
                rows::take(conn, id)?;
                rows::finish(
                    conn,
                    id,
                    &outcome,
                    env.result_ttl(),
                    &Finished::of(&env),
                    now,
                )?;
                taken.ended.push((id, outcome));
                continue;
            }
            if let Some(gate) = &env.gate {
                match flow::admit(conn, &queue, id, gate, now, now_us())? {
                    Admission::Go => {}
                    Admission::Later(at) => {
                        rows::to_delayed(conn, id, at, now)?;
                        continue;
                    }
                    Admission::Wait(key) => {
                        conn.prepare_cached(SQL.get("wait_permit"))?
                            .execute(rusqlite::params![seq, key])?;
                        continue;
                    }
                }
            }
            conn.prepare_cached(SQL.get("lease"))?
                .execute(rusqlite::params![seq, deadline, now])?;
            let mut env = env;
            env.attempt += 1;
            taken.out.push(Delivery::new(env));
        }
        if taken.out.len() >= max {
            break;
        }
    }
    if taken.out.is_empty() {
        let sql = with_queues(SQL.get("next_due"), open.len());
        let mut st = conn.prepare_cached(&sql)?;
        // ?1 is unused by this statement; bind the queues from ?2.
        let mut args: Vec<Value> = vec![Value::Null];
        args.extend(open.iter().map(|q| Value::Text((*q).clone())));
        taken.next = st.query_row(params_from_iter(args), |r| r.get::<_, Option<i64>>(0))?;
    }
    Ok(taken)
}

impl SqliteBackend {
    async fn take_once(&self, req: &FetchRequest<'_>) -> Result<Taken, StoreError> {
        let queues = req.queues.to_vec();
        let max = req.max;
        let lease = super::values::dur_ms(req.lease);
        let taken = self.db.write(move |c| take(c, &queues, max, lease)).await?;
        self.ended(&taken.ended);
        Ok(taken)
    }

    /// [`taskq::backend::Backend::fetch`].
    pub(crate) async fn fetch_now(
        &self,
        req: FetchRequest<'_>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let give_up = tokio::time::Instant::now() + req.wait;
        let first = self.take_once(&req).await?;
        if !first.out.is_empty() || req.wait.is_zero() || req.max == 0 {
            return Ok(first.out);
        }
        // Nothing ready: armed and counted before looking again, so a write in between is
        // never missed.
        let _asleep = self.db.wake.sleeper();
        loop {
            let notified = self.db.wake.ready().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let taken = self.take_once(&req).await?;
            let now = tokio::time::Instant::now();
            if !taken.out.is_empty() || now >= give_up {
                return Ok(taken.out);
            }
            let until = match taken.next {
                Some(at) => {
                    let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                    (now + Duration::from_millis(wait)).min(give_up)
                }
                None => give_up,
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }
}
