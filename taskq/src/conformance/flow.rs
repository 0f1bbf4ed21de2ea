//! Conformance checks of rate and concurrency limits ([`crate::flow`]): decided in the fetch,
//! a limited task holds no lease and uses no attempt, and a permit comes back when its holder
//! ends or its lease expires.

use std::time::{Duration, Instant};

use super::{env, fetch, success, CheckResult, NOW, SHORT, TTL};
use crate::backend::{Backend, FetchRequest};
use crate::flow::{ConcurrencyGate, Gate, RateGate};
use crate::message::Envelope;

fn rated(q: &str, n: u32, key: &str, interval: Duration) -> Envelope {
    let mut e = env(q, n);
    e.gate = Some(Gate {
        rate: Some(RateGate {
            key: key.to_owned(),
            interval_us: u64::try_from(interval.as_micros()).unwrap_or(u64::MAX),
        }),
        concurrency: None,
        breaker: None,
    });
    e
}

fn capped(q: &str, n: u32, key: &str, max: u32) -> Envelope {
    let mut e = env(q, n);
    e.gate = Some(Gate {
        rate: None,
        concurrency: Some(ConcurrencyGate {
            key: key.to_owned(),
            max,
        }),
        breaker: None,
    });
    e
}

async fn publish(b: &dyn Backend, envs: Vec<Envelope>) -> CheckResult {
    b.publish(envs)
        .await
        .map_err(|e| format!("publish failed: {e}"))
}

/// One task per interval: the others wait (in the delayed set) and start when their slot
/// comes, on their first attempt.
pub(super) async fn rate_limit_spaces_starts_without_using_attempts(
    b: &dyn Backend,
    q: &str,
) -> CheckResult {
    let interval = Duration::from_millis(300);
    publish(b, (0..3).map(|n| rated(q, n, "r", interval)).collect()).await?;
    let first = fetch(b, q, 10, SHORT).await?;
    ensure!(
        first.len() == 1,
        "a rate of one per 300 ms let {} start at once",
        first.len()
    );
    let started = Instant::now();
    let again = fetch(b, q, 10, NOW).await?;
    ensure!(
        again.is_empty(),
        "a second task started within the interval"
    );
    let second = fetch(b, q, 10, SHORT).await?;
    let waited = started.elapsed();
    ensure!(
        second.len() == 1,
        "after the interval, {} started (want 1)",
        second.len()
    );
    ensure!(
        waited >= Duration::from_millis(200),
        "the second task started {waited:?} after the first, within its 300 ms interval"
    );
    let d = &second[0];
    ensure!(
        d.envelope.attempt == 1,
        "a task held back by its rate used attempts: it starts on attempt {}",
        d.envelope.attempt
    );
    let third = fetch(b, q, 10, SHORT).await?;
    ensure!(third.len() == 1, "the third task did not start in its slot");
    let done: Vec<_> = [&first[0], d, &third[0]]
        .into_iter()
        .map(|d| success(d, 0, TTL))
        .collect();
    b.complete(&done)
        .await
        .map_err(|e| format!("complete failed: {e}"))?;
    Ok(())
}

/// Rate keys are separate: one task of each key starts at once.
pub(super) async fn rate_limit_keys_are_separate(b: &dyn Backend, q: &str) -> CheckResult {
    let long = Duration::from_secs(30);
    publish(
        b,
        vec![
            rated(q, 0, "a", long),
            rated(q, 1, "b", long),
            rated(q, 2, "a", long),
        ],
    )
    .await?;
    let got = fetch(b, q, 10, SHORT).await?;
    ensure!(
        got.len() == 2,
        "keys a and b: {} started, want one of each",
        got.len()
    );
    let done: Vec<_> = got.iter().map(|d| success(d, 0, TTL)).collect();
    b.complete(&done)
        .await
        .map_err(|e| format!("complete failed: {e}"))?;
    Ok(())
}

/// At most `max` leased per key; the others wait without a lease, and one goes when a holder
/// ends.
pub(super) async fn concurrency_limit_caps_leases_until_one_ends(
    b: &dyn Backend,
    q: &str,
) -> CheckResult {
    publish(b, (0..3).map(|n| capped(q, n, "c", 2)).collect()).await?;
    let running = fetch(b, q, 10, SHORT).await?;
    ensure!(running.len() == 2, "a limit of 2 leased {}", running.len());
    let more = fetch(b, q, 10, NOW).await?;
    ensure!(
        more.is_empty(),
        "a third task was leased past the limit of 2"
    );
    b.complete(&[success(&running[0], 0, TTL)])
        .await
        .map_err(|e| format!("complete failed: {e}"))?;
    let next = fetch(b, q, 10, SHORT).await?;
    ensure!(
        next.len() == 1,
        "after one ended, {} started (want 1)",
        next.len()
    );
    ensure!(
        next[0].envelope.attempt == 1,
        "the waiting task used attempts: it starts on attempt {}",
        next[0].envelope.attempt
    );
    let stats = b
        .complete(&[success(&running[1], 0, TTL), success(&next[0], 0, TTL)])
        .await
        .map_err(|e| format!("complete failed: {e}"))?;
    ensure!(stats.iter().all(|ok| *ok), "completions refused: {stats:?}");
    Ok(())
}

/// A holder whose lease expires (its worker died) gives its permit back.
pub(super) async fn concurrency_permit_returns_with_an_expired_lease(
    b: &dyn Backend,
    q: &str,
) -> CheckResult {
    publish(b, (0..2).map(|n| capped(q, n, "x", 1)).collect()).await?;
    let queues = [q.to_owned()];
    let short = FetchRequest {
        queues: &queues,
        max: 10,
        lease: Duration::from_millis(300),
        wait: SHORT,
    };
    let first = b
        .fetch(short)
        .await
        .map_err(|e| format!("fetch failed: {e}"))?;
    ensure!(first.len() == 1, "a limit of 1 leased {}", first.len());
    // Never completed: after 300 ms the lease is over and the permit must come back.
    let next = fetch(b, q, 10, SHORT).await?;
    ensure!(
        next.len() == 1,
        "after the holder's lease expired, {} started (want 1)",
        next.len()
    );
    let none = fetch(b, q, 10, NOW).await?;
    ensure!(none.is_empty(), "two leased at once under a limit of 1");
    b.complete(&[success(&next[0], 0, TTL)])
        .await
        .map_err(|e| format!("complete failed: {e}"))?;
    let last = fetch(b, q, 10, SHORT).await?;
    ensure!(
        last.len() == 1,
        "the last task did not start after the others ended"
    );
    b.complete(&[success(&last[0], 0, TTL)])
        .await
        .map_err(|e| format!("complete failed: {e}"))?;
    Ok(())
}

fn breakered(q: &str, n: u32, spec: crate::flow::BreakerSpec) -> Envelope {
    let mut e = env(q, n);
    e.gate = Some(Gate {
        rate: None,
        concurrency: None,
        breaker: Some(crate::flow::BreakerGate {
            key: "brk".to_owned(),
            spec,
        }),
    });
    e
}

/// Enough failures open a breaker fleet-wide: nothing of its task starts (no attempt used)
/// until the cooldown; then one probe, whose success closes it; it can be forced either way.
pub(super) async fn circuit_breaker_opens_probes_and_closes(
    b: &dyn Backend,
    q: &str,
) -> CheckResult {
    use crate::flow::{BreakerSpec, BreakerState};
    let spec = BreakerSpec {
        failures: 2,
        within_ms: 60_000,
        cooldown_ms: 400,
        probes: 1,
    };
    let report = |ok: bool| b.breaker_report(q, "brk", &spec, ok);
    let first = report(false)
        .await
        .map_err(|e| format!("breaker_report failed: {e}"))?;
    ensure!(
        first.after == BreakerState::Closed && !first.opened(),
        "one failure of two opened it: {first:?}"
    );
    let second = report(false)
        .await
        .map_err(|e| format!("breaker_report failed: {e}"))?;
    ensure!(
        matches!(second.after, BreakerState::Open { .. }) && second.opened(),
        "two failures within the window left it {second:?} (the report must say it opened it)"
    );
    let late = report(false)
        .await
        .map_err(|e| format!("breaker_report failed: {e}"))?;
    ensure!(
        matches!(late.after, BreakerState::Open { .. }) && !late.opened(),
        "a failure reported to an open breaker claims to have opened it: {late:?}"
    );
    publish(b, (0..3).map(|n| breakered(q, n, spec)).collect()).await?;
    let blocked = fetch(b, q, 10, NOW).await?;
    ensure!(
        blocked.is_empty(),
        "{} started under an open breaker",
        blocked.len()
    );
    // After the 400 ms cooldown: one probe.
    let probe = fetch(b, q, 10, SHORT).await?;
    ensure!(
        probe.len() == 1,
        "half-open with one probe, {} started",
        probe.len()
    );
    ensure!(
        probe[0].envelope.attempt == 1,
        "the probe used attempts while the breaker was open: attempt {}",
        probe[0].envelope.attempt
    );
    let more = fetch(b, q, 10, NOW).await?;
    ensure!(
        more.is_empty(),
        "a second task started while the probe runs"
    );
    let closed = report(true)
        .await
        .map_err(|e| format!("breaker_report failed: {e}"))?;
    ensure!(
        closed.after == BreakerState::Closed && closed.closed(),
        "the probe's success left it {closed:?} (the report must say it closed it)"
    );
    let mut rest = Vec::new();
    let until = Instant::now() + Duration::from_secs(4);
    while rest.len() < 2 && Instant::now() < until {
        rest.extend(fetch(b, q, 10, Duration::from_millis(500)).await?);
    }
    ensure!(
        rest.len() == 2,
        "after it closed, {} of 2 started",
        rest.len()
    );
    let mut done: Vec<_> = rest.iter().map(|d| success(d, 0, TTL)).collect();
    done.push(success(&probe[0], 0, TTL));
    b.complete(&done)
        .await
        .map_err(|e| format!("complete failed: {e}"))?;

    b.set_breaker(q, "brk", Some(Duration::from_secs(60)))
        .await
        .map_err(|e| format!("set_breaker failed: {e}"))?;
    let forced = b
        .breaker_state(q, "brk")
        .await
        .map_err(|e| format!("breaker_state failed: {e}"))?;
    ensure!(
        matches!(forced, BreakerState::Open { .. }),
        "forced open, it is {forced:?}"
    );
    publish(b, vec![breakered(q, 9, spec)]).await?;
    let none = fetch(b, q, 10, NOW).await?;
    ensure!(
        none.is_empty(),
        "a task started under a breaker forced open"
    );
    b.set_breaker(q, "brk", None)
        .await
        .map_err(|e| format!("set_breaker failed: {e}"))?;
    let state = b
        .breaker_state(q, "brk")
        .await
        .map_err(|e| format!("breaker_state failed: {e}"))?;
    ensure!(
        state == BreakerState::Closed,
        "forced closed, it is {state:?}"
    );
    let after = fetch(b, q, 10, SHORT).await?;
    ensure!(
        after.len() == 1,
        "after closing by hand, {} started (want 1)",
        after.len()
    );
    b.complete(&[success(&after[0], 0, TTL)])
        .await
        .map_err(|e| format!("complete failed: {e}"))?;
    Ok(())
}

/// A limit holds however a task comes in: published once (workflow steps), with a unique key,
/// or as a schedule's tick, not only by `publish`.
pub(super) async fn limits_hold_for_every_way_in(b: &dyn Backend, q: &str) -> CheckResult {
    use crate::message::Timestamp;
    use crate::schedule::{tick_envelope, Overlap, Schedule, TickClaim};
    let once = vec![capped(q, 1, "all", 1), capped(q, 2, "all", 1)];
    let sent = b
        .publish_once(once, Duration::from_secs(60))
        .await
        .map_err(|e| format!("publish_once failed: {e}"))?;
    ensure!(sent == 2, "publish_once published {sent} of 2");
    b.publish_unique(capped(q, 3, "all", 1), "only", Duration::from_secs(60))
        .await
        .map_err(|e| format!("publish_unique failed: {e}"))?;
    let template = capped(q, 4, "all", 1);
    let spec = Schedule::every("1h")
        .and_then(|s| s.id(q))
        .map(|s| s.overlap(Overlap::Allow))
        .and_then(|s| s.run_envelope(template))
        .map_err(|e| format!("building the spec failed: {e}"))?;
    b.put_schedule(&spec)
        .await
        .map_err(|e| format!("put_schedule failed: {e}"))?;
    let nominal = Timestamp(Timestamp::now().0.saturating_sub(1_000));
    let mut envelope = tick_envelope(&spec, nominal);
    envelope.eta = None;
    b.claim_tick(&TickClaim {
        schedule: spec.id.clone(),
        nominal,
        envelope,
        missed: 0,
        overlap: Overlap::Allow,
    })
    .await
    .map_err(|e| format!("claim_tick failed: {e}"))?;

    for n in 0..4 {
        let leased = fetch(b, q, 10, SHORT).await?;
        ensure!(
            leased.len() == 1,
            "round {n}: a limit of 1 leased {} of the tasks sent by publish_once, \
             publish_unique and claim_tick",
            leased.len()
        );
        let more = fetch(b, q, 10, NOW).await?;
        ensure!(
            more.is_empty(),
            "round {n}: two leased at once under a limit of 1"
        );
        b.complete(&[success(&leased[0], 0, TTL)])
            .await
            .map_err(|e| format!("complete failed: {e}"))?;
    }
    let _ = b.delete_schedule(&spec.id).await;
    Ok(())
}
