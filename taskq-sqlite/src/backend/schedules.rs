//! Periodic schedules: spec and shared state in one row each. A tick's claim reads the row,
//! decides (already claimed, paused, overlapping) and publishes the tick's task in the same
//! write transaction, which holds the file's write lock: of any number of schedulers in any
//! number of processes, exactly one enqueues a tick, and one that dies mid-claim changes
//! nothing.

use rusqlite::{params, Connection, OptionalExtension};
use taskq::schedule::{
    Overlap, ScheduleSpec, ScheduleState, SkipReason, StoredSchedule, TickClaim, TickOutcome,
};
use taskq::{Envelope, TaskId};

use super::rows;
use super::values::now_ms;
use super::SqliteBackend;
use crate::error::StoreError;
use crate::queries::queries;

queries!("schedules.sql");

struct Row {
    spec: ScheduleSpec,
    state: ScheduleState,
    buffered: Option<Envelope>,
}

fn json<T: serde::Serialize>(v: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::corrupt(what, e))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::corrupt(what, e))
}

fn load(c: &Connection, id: &str) -> Result<Option<Row>, StoreError> {
    let row: Option<(String, String, Option<String>)> = c
        .prepare_cached(SQL.get("get"))?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(spec, state, buffered)| {
        Ok(Row {
            spec: parse(&spec, "schedules.spec")?,
            state: parse(&state, "schedules.state")?,
            buffered: buffered
                .map(|b| parse(&b, "schedules.buffered"))
                .transpose()?,
        })
    })
    .transpose()
}

fn save(c: &Connection, id: &str, row: &Row) -> Result<(), StoreError> {
    let buffered = row
        .buffered
        .as_ref()
        .map(|b| json(b, "schedules.buffered"))
        .transpose()?;
    c.prepare_cached(SQL.get("set_state"))?.execute(params![
        id,
        json(&row.state, "schedules.state")?,
        buffered
    ])?;
    Ok(())
}

fn pending(c: &Connection, id: Option<TaskId>) -> Result<bool, StoreError> {
    match id {
        Some(id) => rows::exists(c, id),
        None => Ok(false),
    }
}

fn send(c: &Connection, env: &Envelope) -> Result<TaskId, StoreError> {
    rows::insert(c, env, now_ms())?;
    Ok(env.id)
}

/// Sends the kept tick once the previous run ended. Returns the task sent.
fn release(c: &Connection, id: &str) -> Result<Option<TaskId>, StoreError> {
    let Some(mut row) = load(c, id)? else {
        return Ok(None);
    };
    if row.buffered.is_none() || pending(c, row.state.last_task)? {
        return Ok(None);
    }
    let Some(env) = row.buffered.take() else {
        return Ok(None);
    };
    row.state.buffered = None;
    let sent = send(c, &env)?;
    row.state.last_task = Some(sent);
    row.state.runs += 1;
    save(c, id, &row)?;
    Ok(Some(sent))
}

fn claim(c: &Connection, claim: &TickClaim) -> Result<(TickOutcome, bool), StoreError> {
    let released = release(c, &claim.schedule)?.is_some();
    let Some(mut row) = load(c, &claim.schedule)? else {
        return Ok((TickOutcome::NotFound, released));
    };
    if row
        .state
        .last_tick
        .is_some_and(|last| last >= claim.nominal)
    {
        return Ok((TickOutcome::AlreadyClaimed, released));
    }
    let busy = pending(c, row.state.last_task)?;
    let decision = if row.state.paused {
        Err(SkipReason::Paused)
    } else if !busy {
        Ok(false)
    } else {
        match claim.overlap {
            Overlap::Allow => Ok(false),
            Overlap::Skip => Err(SkipReason::Overlap),
            Overlap::BufferOne if row.buffered.is_some() => Err(SkipReason::BufferFull),
            Overlap::BufferOne => Ok(true),
        }
    };
    let state = &mut row.state;
    state.last_tick = Some(claim.nominal);
    state.record_skip(claim.nominal, SkipReason::Catchup, claim.missed);
    let outcome = match decision {
        Ok(false) => {
            let id = if rows::exists(c, claim.envelope.id)? {
                claim.envelope.id
            } else {
                send(c, &claim.envelope)?
            };
            state.last_task = Some(id);
            state.runs += 1;
            TickOutcome::Enqueued(id)
        }
        Ok(true) => {
            state.buffered = Some(claim.nominal);
            row.buffered = Some(claim.envelope.clone());
            TickOutcome::Buffered
        }
        Err(reason) => {
            state.record_skip(claim.nominal, reason, 1);
            TickOutcome::Skipped(reason)
        }
    };
    save(c, &claim.schedule, &row)?;
    let sent = matches!(outcome, TickOutcome::Enqueued(_));
    Ok((outcome, sent || released))
}

impl SqliteBackend {
    /// [`taskq::backend::Backend::put_schedule`]: true when it is new; an existing schedule's
    /// spec is replaced, its state kept.
    pub(crate) async fn put_schedule_now(&self, spec: &ScheduleSpec) -> Result<bool, StoreError> {
        let spec = spec.clone();
        self.db
            .write(move |c| match load(c, &spec.id)? {
                Some(row) => {
                    if row.spec != spec {
                        c.prepare_cached(SQL.get("set_spec"))?
                            .execute(params![spec.id, json(&spec, "schedules.spec")?])?;
                    }
                    Ok(false)
                }
                None => {
                    c.prepare_cached(SQL.get("insert"))?.execute(params![
                        spec.id,
                        json(&spec, "schedules.spec")?,
                        json(&ScheduleState::default(), "schedules.state")?
                    ])?;
                    Ok(true)
                }
            })
            .await
    }

    /// [`taskq::backend::Backend::schedules`].
    pub(crate) async fn schedules_now(&self) -> Result<Vec<StoredSchedule>, StoreError> {
        self.db
            .read(|c| {
                let mut st = c.prepare_cached(SQL.get("list"))?;
                let rows =
                    st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
                let mut out = Vec::new();
                for row in rows {
                    let (spec, state) = row?;
                    out.push(StoredSchedule {
                        spec: parse(&spec, "schedules.spec")?,
                        state: parse(&state, "schedules.state")?,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// [`taskq::backend::Backend::schedule`].
    pub(crate) async fn schedule_now(
        &self,
        id: &str,
    ) -> Result<Option<StoredSchedule>, StoreError> {
        self.db
            .read(|c| {
                Ok(load(c, id)?.map(|r| StoredSchedule {
                    spec: r.spec,
                    state: r.state,
                }))
            })
            .await
    }

    /// [`taskq::backend::Backend::delete_schedule`].
    pub(crate) async fn delete_schedule_now(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.db
            .write(move |c| Ok(c.prepare_cached(SQL.get("delete"))?.execute([id])? > 0))
            .await
    }

    /// [`taskq::backend::Backend::set_schedule_paused`].
    pub(crate) async fn set_schedule_paused_now(
        &self,
        id: &str,
        paused: bool,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                let Some(mut row) = load(c, &id)? else {
                    return Ok(false);
                };
                row.state.paused = paused;
                save(c, &id, &row)?;
                Ok(true)
            })
            .await
    }

    /// [`taskq::backend::Backend::claim_tick`].
    pub(crate) async fn claim_tick_now(&self, tick: &TickClaim) -> Result<TickOutcome, StoreError> {
        let tick = tick.clone();
        let (outcome, sent) = self.db.write(move |c| claim(c, &tick)).await?;
        if sent {
            self.db.wake.fetchers();
        }
        Ok(outcome)
    }

    /// [`taskq::backend::Backend::release_buffered`].
    pub(crate) async fn release_buffered_now(
        &self,
        id: &str,
    ) -> Result<Option<TaskId>, StoreError> {
        let id = id.to_owned();
        let sent = self.db.write(move |c| release(c, &id)).await?;
        if sent.is_some() {
            self.db.wake.fetchers();
        }
        Ok(sent)
    }
}
