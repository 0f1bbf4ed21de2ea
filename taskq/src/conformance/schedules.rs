//! Conformance checks of periodic schedules: stored specs, exactly-once tick claims,
//! later-tick-only, overlap, pause and delete.

use futures_util::future::join_all;

use super::{fetch, fetch_one, success, CheckResult, NOW, SHORT, TTL};
use crate::backend::Backend;
use crate::message::{Envelope, Payload, Timestamp};
use crate::schedule::{
    tick_envelope, tick_id, Overlap, Schedule, ScheduleSpec, SkipReason, TickClaim, TickOutcome,
};

fn spec(q: &str, overlap: Overlap) -> Result<ScheduleSpec, String> {
    let template = Envelope::new("conformance.scheduled", q, Payload::null());
    Schedule::every("1s")
        .and_then(|s| s.id(q))
        .map(|s| s.overlap(overlap))
        .and_then(|s| s.run_envelope(template))
        .map_err(|e| format!("building the spec failed: {e}"))
}

fn claim(spec: &ScheduleSpec, nominal: u64) -> TickClaim {
    TickClaim {
        schedule: spec.id.clone(),
        nominal: Timestamp(nominal),
        envelope: tick_envelope(spec, Timestamp(nominal)),
        missed: 0,
        overlap: spec.overlap,
    }
}

async fn claim_one(b: &dyn Backend, c: &TickClaim) -> Result<TickOutcome, String> {
    b.claim_tick(c)
        .await
        .map_err(|e| format!("claim_tick failed: {e}"))
}

/// A past instant on a whole second, different per call site.
fn past(secs_ago: u64) -> u64 {
    (Timestamp::now().0 / 1000).saturating_sub(secs_ago) * 1000
}

pub(super) async fn schedules_are_stored_idempotently(b: &dyn Backend, q: &str) -> CheckResult {
    let s = spec(q, Overlap::Allow)?;
    let err = |e| format!("{e}");
    ensure!(
        b.put_schedule(&s).await.map_err(err)?,
        "the first put was not new"
    );
    ensure!(
        !b.put_schedule(&s).await.map_err(err)?,
        "a second put of the same spec was new"
    );
    let listed = b.schedules().await.map_err(err)?;
    let mine: Vec<_> = listed.iter().filter(|x| x.spec.id == s.id).collect();
    ensure!(mine.len() == 1, "listed {} times", mine.len());
    ensure!(
        mine[0].spec == s,
        "the stored spec changed: {:?}",
        mine[0].spec
    );
    let one = b.schedule(q).await.map_err(err)?;
    ensure!(
        one.is_some_and(|x| x.state.last_tick.is_none()),
        "a new schedule has a last tick"
    );
    // A changed spec replaces the old one and keeps the state.
    ensure!(
        claim_one(b, &claim(&s, past(5))).await? != TickOutcome::NotFound,
        "the claim found no schedule"
    );
    let mut changed = s.clone();
    changed.jitter_ms = 7;
    ensure!(
        !b.put_schedule(&changed).await.map_err(err)?,
        "a changed spec was new"
    );
    let got = b
        .schedule(q)
        .await
        .map_err(err)?
        .ok_or("the schedule is gone")?;
    ensure!(got.spec.jitter_ms == 7, "the spec was not replaced");
    ensure!(got.state.last_tick.is_some(), "the state was lost");
    ensure!(
        b.delete_schedule(q).await.map_err(err)?,
        "delete found nothing"
    );
    ensure!(
        !b.delete_schedule(q).await.map_err(err)?,
        "a second delete found something"
    );
    ensure!(
        b.schedule(q).await.map_err(err)?.is_none(),
        "a deleted schedule is still there"
    );
    ensure!(
        claim_one(b, &claim(&s, past(1))).await? == TickOutcome::NotFound,
        "a deleted schedule's tick was claimed"
    );
    Ok(())
}

pub(super) async fn schedule_tick_is_claimed_exactly_once(b: &dyn Backend, q: &str) -> CheckResult {
    let s = spec(q, Overlap::Allow)?;
    b.put_schedule(&s).await.map_err(|e| e.to_string())?;
    let nominal = past(10);
    let c = claim(&s, nominal);
    let outcomes = join_all((0..10).map(|_| b.claim_tick(&c))).await;
    let mut won = 0;
    for o in outcomes {
        match o.map_err(|e| format!("claim_tick failed: {e}"))? {
            TickOutcome::Enqueued(id) => {
                ensure!(
                    id == tick_id(q, Timestamp(nominal)),
                    "the task id is not the tick's"
                );
                won += 1;
            }
            TickOutcome::AlreadyClaimed => {}
            other => return Err(format!("unexpected outcome {other:?}")),
        }
    }
    ensure!(won == 1, "{won} of 10 concurrent claims of one tick won");
    // Only later ticks: the same or an earlier one is refused.
    ensure!(
        claim_one(b, &claim(&s, nominal - 1000)).await? == TickOutcome::AlreadyClaimed,
        "an earlier tick was claimed after a later one"
    );
    let d = fetch_one(b, q, SHORT).await?;
    ensure!(
        d.envelope.id == tick_id(q, Timestamp(nominal)),
        "fetched another task"
    );
    let more = fetch(b, q, 10, NOW).await?;
    ensure!(more.is_empty(), "{} more tasks were enqueued", more.len());
    let later = claim_one(b, &claim(&s, nominal + 1000)).await?;
    ensure!(
        matches!(later, TickOutcome::Enqueued(_)),
        "the next tick: {later:?}"
    );
    let st = b
        .schedule(q)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("gone")?;
    ensure!(st.state.runs == 2, "runs = {}", st.state.runs);
    ensure!(
        st.state.last_tick == Some(Timestamp(nominal + 1000)),
        "last tick not recorded"
    );
    Ok(())
}

pub(super) async fn schedule_overlap_skips_or_buffers(b: &dyn Backend, q: &str) -> CheckResult {
    // Skip: a tick while the previous run is queued is recorded as skipped.
    let skip_q = format!("{q}-skip");
    let s = spec(&skip_q, Overlap::Skip)?;
    b.put_schedule(&s).await.map_err(|e| e.to_string())?;
    let t0 = past(20);
    ensure!(
        matches!(
            claim_one(b, &claim(&s, t0)).await?,
            TickOutcome::Enqueued(_)
        ),
        "first tick"
    );
    let second = claim_one(b, &claim(&s, t0 + 1000)).await?;
    ensure!(
        second == TickOutcome::Skipped(SkipReason::Overlap),
        "second tick: {second:?}"
    );
    let d = fetch_one(b, &skip_q, SHORT).await?;
    // Still running: skipped again.
    let third = claim_one(b, &claim(&s, t0 + 2000)).await?;
    ensure!(
        third == TickOutcome::Skipped(SkipReason::Overlap),
        "third tick (running): {third:?}"
    );
    b.complete(&[success(&d, 1, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    let fourth = claim_one(b, &claim(&s, t0 + 3000)).await?;
    ensure!(
        matches!(fourth, TickOutcome::Enqueued(_)),
        "tick after the run finished: {fourth:?}"
    );
    let st = b
        .schedule(&skip_q)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("gone")?;
    ensure!(
        st.state.skipped.get(&SkipReason::Overlap) == Some(&2),
        "skips recorded: {:?}",
        st.state.skipped
    );
    ensure!(
        st.state
            .recent_skips
            .first()
            .is_some_and(|r| r.nominal == Timestamp(t0 + 2000)),
        "the newest skip is not first: {:?}",
        st.state.recent_skips
    );

    // Buffer one: kept, then a second one is dropped, then released after the run.
    let s = spec(q, Overlap::BufferOne)?;
    b.put_schedule(&s).await.map_err(|e| e.to_string())?;
    ensure!(
        matches!(
            claim_one(b, &claim(&s, t0)).await?,
            TickOutcome::Enqueued(_)
        ),
        "first"
    );
    let kept = claim_one(b, &claim(&s, t0 + 1000)).await?;
    ensure!(kept == TickOutcome::Buffered, "second tick: {kept:?}");
    let dropped = claim_one(b, &claim(&s, t0 + 2000)).await?;
    ensure!(
        dropped == TickOutcome::Skipped(SkipReason::BufferFull),
        "third: {dropped:?}"
    );
    let early = b.release_buffered(q).await.map_err(|e| e.to_string())?;
    ensure!(
        early.is_none(),
        "the kept tick was released while the run was queued"
    );
    let d = fetch_one(b, q, SHORT).await?;
    b.complete(&[success(&d, 1, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    let released = b.release_buffered(q).await.map_err(|e| e.to_string())?;
    ensure!(
        released == Some(tick_id(q, Timestamp(t0 + 1000))),
        "released {released:?}"
    );
    let d = fetch_one(b, q, SHORT).await?;
    ensure!(
        d.envelope.id == tick_id(q, Timestamp(t0 + 1000)),
        "fetched another task"
    );
    let again = b.release_buffered(q).await.map_err(|e| e.to_string())?;
    ensure!(again.is_none(), "released twice");
    Ok(())
}

pub(super) async fn paused_schedule_records_skips(b: &dyn Backend, q: &str) -> CheckResult {
    let s = spec(q, Overlap::Allow)?;
    b.put_schedule(&s).await.map_err(|e| e.to_string())?;
    ensure!(
        b.set_schedule_paused(q, true)
            .await
            .map_err(|e| e.to_string())?,
        "pause found no schedule"
    );
    let t0 = past(30);
    let mut c = claim(&s, t0);
    c.missed = 4;
    let o = claim_one(b, &c).await?;
    ensure!(
        o == TickOutcome::Skipped(SkipReason::Paused),
        "paused tick: {o:?}"
    );
    ensure!(
        fetch(b, q, 10, NOW).await?.is_empty(),
        "a paused schedule enqueued"
    );
    ensure!(
        b.set_schedule_paused(q, false)
            .await
            .map_err(|e| e.to_string())?,
        "resume found no schedule"
    );
    let o = claim_one(b, &claim(&s, t0 + 1000)).await?;
    ensure!(matches!(o, TickOutcome::Enqueued(_)), "resumed tick: {o:?}");
    let st = b
        .schedule(q)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("gone")?;
    ensure!(!st.state.paused, "still paused");
    ensure!(
        st.state.skipped.get(&SkipReason::Paused) == Some(&1)
            && st.state.skipped.get(&SkipReason::Catchup) == Some(&4),
        "skips recorded: {:?}",
        st.state.skipped
    );
    ensure!(
        !b.set_schedule_paused("conformance-no-such-schedule", true)
            .await
            .map_err(|e| e.to_string())?,
        "pausing an unknown schedule succeeded"
    );
    Ok(())
}
