//! Periodic schedules on Redis: specs in one hash (`{prefix:~schedules}:specs`), each
//! schedule's state in a hash beside its task's queue (`{prefix:queue}:sched:<id>`), so the
//! claim script touches one cluster slot: it compares and records the tick, applies the
//! overlap policy and publishes, in one step (`lua/schedule_claim.lua`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};
use taskq::schedule::{
    Overlap, ScheduleSpec, ScheduleState, SkipReason, SkippedTick, StoredSchedule, TickClaim,
    TickOutcome,
};
use taskq::{BackendError, TaskId, Timestamp};

use super::Inner;
use crate::codec;
use crate::conn::corrupt;
use crate::keys::{self, QueueKeys};

/// Claim one tick.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("../lua/prelude.lua"),
        include_str!("../lua/schedule_common.lua"),
        include_str!("../lua/schedule_claim.lua")
    ))
});

/// Send the kept tick.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("../lua/prelude.lua"),
        include_str!("../lua/schedule_common.lua"),
        include_str!("../lua/schedule_release.lua")
    ))
});

fn script_keys(inv: &mut ScriptInvocation<'_>, k: &QueueKeys, id: &str) {
    inv.key(k.schedule(id))
        .key(k.schedule_skips(id))
        .key(k.env())
        .key(k.wake())
        .key(k.delayed());
    for r in k.ready_all() {
        inv.key(r);
    }
    inv.key(k.denv());
}

fn overlap_word(o: Overlap) -> &'static str {
    match o {
        Overlap::Allow => "allow",
        Overlap::Skip => "skip",
        Overlap::BufferOne => "buffer_one",
    }
}

impl Inner {
    fn specs_key(&self) -> String {
        keys::schedules_key(&self.prefix)
    }

    async fn spec_of(&self, id: &str) -> Result<Option<ScheduleSpec>, BackendError> {
        let key = self.specs_key();
        let raw: Option<String> = self.command(redis::cmd("HGET").arg(&key).arg(id)).await?;
        raw.map(|r| {
            serde_json::from_str(&r).map_err(|e| corrupt(&key, format!("schedule `{id}`: {e}")))
        })
        .transpose()
    }

    pub(super) async fn put_schedule(&self, spec: &ScheduleSpec) -> Result<bool, BackendError> {
        let json = serde_json::to_string(spec).map_err(|e| BackendError::Command {
            backend: crate::conn::BACKEND,
            source: Box::new(e),
        })?;
        let k = self.keys(&spec.template.queue);
        self.register_queues(std::iter::once(spec.template.queue.as_str()))
            .await?;
        let mut pipe = redis::pipe();
        pipe.cmd("HSETNX")
            .arg(self.specs_key())
            .arg(&spec.id)
            .arg(&json)
            .cmd("HSETNX")
            .arg(k.schedule(&spec.id))
            .arg("created")
            .arg(Timestamp::now().as_millis())
            .ignore();
        let (created,): (bool,) = self.query(&pipe).await?;
        if !created {
            // Replace a changed spec; the same one is left alone (every replica writes it).
            if self.spec_of(&spec.id).await?.as_ref() != Some(spec) {
                self.command::<()>(
                    redis::cmd("HSET")
                        .arg(self.specs_key())
                        .arg(&spec.id)
                        .arg(&json),
                )
                .await?;
            }
        }
        Ok(created)
    }

    async fn state_of(&self, spec: &ScheduleSpec) -> Result<ScheduleState, BackendError> {
        let mut pipe = redis::pipe();
        self.read_state(&mut pipe, spec);
        let (fields, skips): (BTreeMap<String, String>, Vec<String>) = self.query(&pipe).await?;
        Ok(parse_state(&fields, skips))
    }

    /// Adds the two reads of a schedule's state to `pipe`.
    fn read_state(&self, pipe: &mut redis::Pipeline, spec: &ScheduleSpec) {
        let k = self.keys(&spec.template.queue);
        pipe.cmd("HGETALL")
            .arg(k.schedule(&spec.id))
            .cmd("LRANGE")
            .arg(k.schedule_skips(&spec.id))
            .arg(0)
            .arg(-1);
    }

    pub(super) async fn schedules(&self) -> Result<Vec<StoredSchedule>, BackendError> {
        let key = self.specs_key();
        let all: BTreeMap<String, String> = self.command(redis::cmd("HGETALL").arg(&key)).await?;
        let mut specs = Vec::with_capacity(all.len());
        for (id, raw) in all {
            let spec: ScheduleSpec = serde_json::from_str(&raw)
                .map_err(|e| corrupt(&key, format!("schedule `{id}`: {e}")))?;
            specs.push(spec);
        }
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        // Every state in one round trip.
        let mut pipe = redis::pipe();
        for spec in &specs {
            self.read_state(&mut pipe, spec);
        }
        let replies: Vec<redis::Value> = self.query(&pipe).await?;
        let mut replies = replies.into_iter();
        let mut out = Vec::with_capacity(specs.len());
        for spec in specs {
            let (Some(fields), Some(skips)) = (replies.next(), replies.next()) else {
                return Err(corrupt(&key, "a state read went missing"));
            };
            let fields: BTreeMap<String, String> = redis::from_redis_value(fields)
                .map_err(|e| corrupt(&key, format!("schedule `{}` state: {e}", spec.id)))?;
            let skips: Vec<String> = redis::from_redis_value(skips)
                .map_err(|e| corrupt(&key, format!("schedule `{}` skips: {e}", spec.id)))?;
            let state = parse_state(&fields, skips);
            out.push(StoredSchedule { spec, state });
        }
        Ok(out)
    }

    pub(super) async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, BackendError> {
        let Some(spec) = self.spec_of(id).await? else {
            return Ok(None);
        };
        let state = self.state_of(&spec).await?;
        Ok(Some(StoredSchedule { spec, state }))
    }

    pub(super) async fn delete_schedule(&self, id: &str) -> Result<bool, BackendError> {
        let Some(spec) = self.spec_of(id).await? else {
            return Ok(false);
        };
        let k = self.keys(&spec.template.queue);
        let mut pipe = redis::pipe();
        pipe.cmd("HDEL")
            .arg(self.specs_key())
            .arg(id)
            .cmd("DEL")
            .arg(k.schedule(id))
            .arg(k.schedule_skips(id))
            .ignore();
        let (n,): (i64,) = self.query(&pipe).await?;
        Ok(n > 0)
    }

    pub(super) async fn set_schedule_paused(
        &self,
        id: &str,
        paused: bool,
    ) -> Result<bool, BackendError> {
        let Some(spec) = self.spec_of(id).await? else {
            return Ok(false);
        };
        let k = self.keys(&spec.template.queue);
        self.command::<()>(
            redis::cmd("HSET")
                .arg(k.schedule(id))
                .arg("paused")
                .arg(if paused { "1" } else { "0" }),
        )
        .await?;
        Ok(true)
    }

    pub(super) async fn claim_tick(&self, claim: &TickClaim) -> Result<TickOutcome, BackendError> {
        let env = &claim.envelope;
        let k = self.keys(&env.queue);
        let now = Timestamp::now();
        let due = env
            .eta
            .filter(|eta| *eta > now)
            .map(|d| d.as_millis().to_string())
            .unwrap_or_default();
        let mut inv = CLAIM.prepare_invoke();
        script_keys(&mut inv, &k, &claim.schedule);
        inv.arg(claim.nominal.as_millis())
            .arg(env.id.to_string())
            .arg(env.priority.min(9))
            .arg(due)
            .arg(codec::encode_message(env))
            .arg(claim.missed)
            .arg(overlap_word(claim.overlap))
            .arg(
                env.gate
                    .as_ref()
                    .map(super::flow::gate_line)
                    .unwrap_or_default(),
            );
        let reply: Vec<String> = self.eval(&inv).await?;
        let bad = || {
            corrupt(
                k.schedule(&claim.schedule),
                format!("claim answered {reply:?}"),
            )
        };
        Ok(match reply.first().map(String::as_str) {
            Some("not_found") => TickOutcome::NotFound,
            Some("already") => TickOutcome::AlreadyClaimed,
            Some("buffered") => TickOutcome::Buffered,
            Some("enqueued") => TickOutcome::Enqueued(
                reply
                    .get(1)
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(bad)?,
            ),
            Some("skipped") => TickOutcome::Skipped(
                reply
                    .get(1)
                    .and_then(|r| SkipReason::parse(r))
                    .ok_or_else(bad)?,
            ),
            _ => return Err(bad()),
        })
    }

    pub(super) async fn release_buffered(&self, id: &str) -> Result<Option<TaskId>, BackendError> {
        let Some(spec) = self.spec_of(id).await? else {
            return Ok(None);
        };
        let k = self.keys(&spec.template.queue);
        let mut inv = RELEASE.prepare_invoke();
        script_keys(&mut inv, &k, id);
        let sent: Option<String> = self.eval(&inv).await?;
        Ok(sent.and_then(|s| s.parse().ok()))
    }
}

/// A schedule's state from its hash and its skips list.
fn parse_state(fields: &BTreeMap<String, String>, skips: Vec<String>) -> ScheduleState {
    let num = |f: &str| fields.get(f).and_then(|v| v.parse::<u64>().ok());
    let mut state = ScheduleState {
        paused: fields.get("paused").is_some_and(|v| v == "1"),
        last_tick: num("last_tick").map(Timestamp),
        last_task: fields
            .get("last_task")
            .and_then(|v| v.parse::<TaskId>().ok()),
        buffered: num("buffered").map(Timestamp),
        runs: num("runs").unwrap_or(0),
        ..ScheduleState::default()
    };
    for (f, v) in fields {
        if let (Some(reason), Ok(n)) = (
            f.strip_prefix("skip:").and_then(SkipReason::parse),
            v.parse::<u64>(),
        ) {
            state.skipped.insert(reason, n);
        }
    }
    for line in skips {
        let mut parts = line.splitn(3, '|');
        let (Some(nominal), Some(reason), Some(count)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let (Ok(nominal), Some(reason), Ok(count)) = (
            nominal.parse::<u64>(),
            SkipReason::parse(reason),
            count.parse::<u64>(),
        ) {
            state.recent_skips.push(SkippedTick {
                nominal: Timestamp(nominal),
                reason,
                count,
            });
        }
    }
    state
}
