//! Inspection, read on the read connections: a queue's counts, the queues, a queue's tasks by
//! state with paging (offset cursors, as in memory), and one task's full record.

use rusqlite::{params, Connection, OptionalExtension};
use taskq::backend::{ListState, Page, QueueStats, TaskDetail, TaskSummary, WorkerInfo};
use taskq::{BackendError, DeadLetter, TaskId, TaskState};

use super::results::live_state;
use super::rows::{self, env_of, payload_of};
use super::values::{id_bytes, id_of, now_ms, outcome_of, ts};
use super::SqliteBackend;
use crate::error::{StoreError, NAME};
use crate::queries::queries;

queries!("inspect.sql");

/// The offset a cursor names (`None`: the first page).
pub(crate) fn offset(cursor: Option<&str>) -> Result<usize, BackendError> {
    match cursor {
        None | Some("") => Ok(0),
        Some(c) => c.parse::<usize>().map_err(|_| BackendError::InvalidCursor {
            backend: NAME,
            cursor: c.to_owned(),
        }),
    }
}

fn letter_of(json: &str) -> Result<DeadLetter, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt("dead.letter", e))
}

/// The worker whose last heartbeat says it runs `id`.
fn worker_of(workers: &[WorkerInfo], id: TaskId) -> Option<String> {
    workers
        .iter()
        .find(|w| w.running.iter().any(|r| r.id == id))
        .map(|w| w.id.clone())
}

fn stats(c: &Connection, queue: &str) -> Result<QueueStats, StoreError> {
    let mut s = QueueStats::default();
    let mut oldest: Option<i64> = None;
    {
        let mut st = c.prepare_cached(SQL.get("counts"))?;
        let rows = st.query_map([queue], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
        for row in rows {
            let (state, n, at) = row?;
            let n = usize::try_from(n).unwrap_or(0);
            match state {
                rows::READY | rows::WAITING => {
                    s.ready += n;
                    oldest = match (oldest, at) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                rows::DELAYED => s.delayed += n,
                _ => s.running += n,
            }
        }
    }
    let dead: i64 = c
        .prepare_cached(SQL.get("dead_count"))?
        .query_row([queue], |r| r.get(0))?;
    s.dead = usize::try_from(dead).unwrap_or(0);
    s.paused = c
        .prepare_cached(SQL.get("is_paused"))?
        .query_row([queue], |_| Ok(()))
        .optional()?
        .is_some();
    s.oldest_ready = oldest.map(ts);
    Ok(s)
}

fn list(
    c: &Connection,
    queue: &str,
    state: ListState,
    offset: usize,
    limit: usize,
    workers: &[WorkerInfo],
) -> Result<Page<TaskSummary>, StoreError> {
    let lim = i64::try_from(limit).unwrap_or(i64::MAX);
    let off = i64::try_from(offset).unwrap_or(i64::MAX);
    let (total, items): (i64, Vec<TaskSummary>) = match state {
        ListState::Dead => {
            let total = c
                .prepare_cached(SQL.get("dead_count"))?
                .query_row([queue], |r| r.get(0))?;
            let mut st = c.prepare_cached(SQL.get("list_dead"))?;
            let rows = st.query_map(params![queue, lim, off], |r| r.get::<_, String>(0))?;
            let mut items = Vec::new();
            for json in rows {
                let letter = letter_of(&json?)?;
                let mut s = TaskSummary::new(ListState::Dead, letter.id, letter.envelope.clone());
                s.reason = Some(letter.reason);
                s.error = Some(match &letter.raw {
                    Some(raw) => format!("{}: {raw}", letter.message),
                    None => letter.message.clone(),
                });
                s.dead_at = Some(letter.at);
                items.push(s);
            }
            (total, items)
        }
        _ => {
            let (count_sql, list_sql, code) = match state {
                ListState::Scheduled => ("count_state", "list_state", rows::DELAYED),
                ListState::Leased => ("count_state", "list_state", rows::LEASED),
                _ => ("count_ready", "list_ready", rows::READY),
            };
            let total: i64 = if code == rows::READY {
                c.prepare_cached(SQL.get(count_sql))?
                    .query_row([queue], |r| r.get(0))?
            } else {
                c.prepare_cached(SQL.get(count_sql))?
                    .query_row(params![queue, code], |r| r.get(0))?
            };
            let mut st = c.prepare_cached(SQL.get(list_sql))?;
            let map = |r: &rusqlite::Row<'_>| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            };
            let rows: Vec<_> = if code == rows::READY {
                st.query_map(params![queue, lim, off], map)?
                    .collect::<Result<_, _>>()?
            } else {
                st.query_map(params![queue, code, lim, off], map)?
                    .collect::<Result<_, _>>()?
            };
            let mut items = Vec::with_capacity(rows.len());
            for (id, attempt, env, at) in rows {
                let id = id_of(&id)?;
                let mut s = TaskSummary::new(state, id, env_of(&env, attempt).ok());
                match state {
                    ListState::Scheduled => s.due_at = Some(ts(at)),
                    ListState::Leased => {
                        s.lease_deadline = Some(ts(at));
                        s.worker = worker_of(workers, id);
                    }
                    _ => {}
                }
                items.push(s);
            }
            (total, items)
        }
    };
    let total = usize::try_from(total).unwrap_or(0);
    let end = offset + items.len();
    Ok(Page {
        next: (end < total && !items.is_empty()).then(|| end.to_string()),
        items,
        total: Some(total),
    })
}

fn detail(
    c: &Connection,
    id: TaskId,
    workers: &[WorkerInfo],
) -> Result<Option<TaskDetail>, StoreError> {
    type Live = (i64, i64, String, i64, Option<i64>, Option<String>);
    let live: Option<Live> = c
        .prepare_cached(SQL.get("task"))?
        .query_row([id_bytes(id)], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    if let Some((state, attempt, env, at, leased_at, progress)) = live {
        let mut d = TaskDetail::new(id, live_state(state, attempt));
        if let Ok(env) = env_of(&env, attempt) {
            d = d.with_envelope(env);
        }
        d.progress = payload_of(progress);
        d.started_at = leased_at.map(ts);
        match state {
            rows::DELAYED => d.due_at = Some(ts(at)),
            rows::LEASED => {
                d.lease_deadline = Some(ts(at));
                d.worker = worker_of(workers, id);
            }
            _ => {}
        }
        return Ok(Some(d));
    }
    type Done = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
    );
    let done: Option<Done> = c
        .prepare_cached(SQL.get("finished"))?
        .query_row(params![id_bytes(id), now_ms()], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .optional()?;
    let letter: Option<String> = c
        .prepare_cached(SQL.get("dead_of"))?
        .query_row([id_bytes(id)], |r| r.get(0))
        .optional()?;
    if done.is_none() && letter.is_none() {
        return Ok(None);
    }
    let mut d = TaskDetail::new(id, TaskState::Failed);
    if let Some(letter) = letter {
        let letter = letter_of(&letter)?;
        if let Some(env) = letter.envelope {
            d = d.with_envelope(env);
        }
        d.queue = Some(letter.queue);
        d.dead_reason = Some(letter.reason);
        d.finished_at = Some(letter.at);
    }
    if let Some((outcome, progress, task, queue, attempt, created, started, finished, args)) = done
    {
        let outcome = outcome_of(&outcome)?;
        d.state = outcome.state();
        d.outcome = Some(outcome);
        d.progress = payload_of(progress);
        if d.task.is_none() {
            d.task = task;
        }
        if d.queue.is_none() {
            d.queue = queue;
        }
        d.attempt = d.attempt.max(u32::try_from(attempt).unwrap_or(0));
        d.created_at = d.created_at.or(created.map(ts));
        d.started_at = started.map(ts);
        d.finished_at = d.finished_at.or(finished.map(ts));
        if d.args.is_none() {
            d.args = payload_of(args);
        }
    }
    Ok(Some(d))
}

impl SqliteBackend {
    /// [`taskq::backend::Backend::queue_stats`].
    pub(crate) async fn queue_stats_now(&self, queue: &str) -> Result<QueueStats, StoreError> {
        self.db.read(|c| stats(c, queue)).await
    }

    /// [`taskq::backend::Backend::queues`].
    pub(crate) async fn queues_now(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .read(|c| {
                let mut st = c.prepare_cached(SQL.get("queues"))?;
                let rows = st.query_map([], |r| r.get::<_, String>(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    /// [`taskq::backend::Backend::list_tasks`].
    pub(crate) async fn list_tasks_now(
        &self,
        queue: &str,
        state: ListState,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<TaskSummary>, BackendError> {
        let offset = offset(cursor)?;
        let workers = self.workers_now().await.map_err(|e| self.err(e))?;
        self.db
            .read(|c| list(c, queue, state, offset, limit, &workers))
            .await
            .map_err(|e| self.err(e))
    }

    /// [`taskq::backend::Backend::inspect`].
    pub(crate) async fn inspect_now(&self, id: TaskId) -> Result<Option<TaskDetail>, StoreError> {
        let workers = self.workers_now().await?;
        self.db.read(|c| detail(c, id, &workers)).await
    }
}
