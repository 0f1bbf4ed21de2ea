//! The scheduler loop on the memory backend, on a clock the test moves: one run per tick,
//! catch-up after downtime by policy (never a flood), several loops never running a tick
//! twice, and a DST day in Berlin.

use std::sync::Arc;
use std::time::Duration;

use taskq::backend::memory::MemoryBackend;
use taskq::backend::{Backend, FetchRequest};
use taskq::schedule::clock::ManualClock;
use taskq::schedule::runner::Scheduler;
use taskq::schedule::{tick_id, Catchup, Dst, ScheduleSpec, SkipReason};
use taskq::{Envelope, Payload, Schedule, Timestamp};
use tokio_util::sync::CancellationToken;

/// 2023-11-14T22:13:20Z: in the past, so the ticks' messages are ready at once.
const T0: u64 = 1_700_000_000_000;

fn spec(id: &str, schedule: Schedule) -> ScheduleSpec {
    let template = Envelope::new("scheduled.task", id, Payload::null());
    schedule
        .id(id)
        .and_then(|s| s.run_envelope(template))
        .expect("a valid schedule")
}

fn start(
    backend: &Arc<MemoryBackend>,
    clock: &ManualClock,
    spec: &ScheduleSpec,
) -> CancellationToken {
    let stop = CancellationToken::new();
    let s = Scheduler::new(backend.clone())
        .clock(Arc::new(clock.clone()))
        .refresh(Duration::from_millis(10))
        .declare(spec.clone());
    tokio::spawn(s.run(stop.clone()));
    stop
}

/// Waits (real time) until the schedule's state satisfies `f`.
async fn until(
    backend: &MemoryBackend,
    id: &str,
    f: impl Fn(&taskq::schedule::ScheduleState) -> bool,
) {
    for _ in 0..500 {
        if let Ok(Some(s)) = backend.schedule(id).await {
            if f(&s.state) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = backend.schedule(id).await.ok().flatten();
    panic!("the schedule never got there: {s:?}");
}

async fn drain(backend: &MemoryBackend, queue: &str) -> Vec<taskq::TaskId> {
    let queues = [queue.to_owned()];
    let got = backend
        .fetch(FetchRequest {
            queues: &queues,
            max: 1000,
            lease: Duration::from_secs(30),
            wait: Duration::ZERO,
        })
        .await
        .expect("fetch");
    got.into_iter().map(|d| d.envelope.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_per_tick_and_a_single_catchup_run_after_downtime() {
    let backend = Arc::new(MemoryBackend::new());
    let clock = ManualClock::new(Timestamp(T0));
    let s = spec("every-second", Schedule::every("1s").expect("valid"));
    let stop = start(&backend, &clock, &s);
    until(&backend, &s.id, |_| true).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    for k in 1..=3u64 {
        clock.set(Timestamp(T0 + k * 1000));
        until(&backend, &s.id, |st| st.runs == k).await;
    }
    // Downtime: ten seconds pass at once; `skip` runs the latest tick once.
    clock.set(Timestamp(T0 + 13_000));
    until(&backend, &s.id, |st| st.runs == 4).await;
    let st = backend
        .schedule(&s.id)
        .await
        .expect("read")
        .expect("stored")
        .state;
    assert_eq!(st.last_tick, Some(Timestamp(T0 + 13_000)));
    assert_eq!(st.skipped.get(&SkipReason::Catchup), Some(&9));
    stop.cancel();
    let ids = drain(&backend, &s.id).await;
    let want: Vec<_> = [1_000, 2_000, 3_000, 13_000]
        .iter()
        .map(|d| tick_id(&s.id, Timestamp(T0 + d)))
        .collect();
    assert_eq!(ids, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catchup_all_runs_the_newest_within_the_cap() {
    let backend = Arc::new(MemoryBackend::new());
    let clock = ManualClock::new(Timestamp(T0));
    let s = spec(
        "catch-all",
        Schedule::every("1s").expect("valid").catchup(Catchup::All {
            window_ms: 5_000,
            cap: 3,
        }),
    );
    let stop = start(&backend, &clock, &s);
    until(&backend, &s.id, |_| true).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    clock.set(Timestamp(T0 + 10_000));
    until(&backend, &s.id, |st| st.runs == 3).await;
    stop.cancel();
    let st = backend
        .schedule(&s.id)
        .await
        .expect("read")
        .expect("stored")
        .state;
    assert_eq!(st.skipped.get(&SkipReason::Catchup), Some(&7));
    let ids = drain(&backend, &s.id).await;
    let want: Vec<_> = [8_000, 9_000, 10_000]
        .iter()
        .map(|d| tick_id(&s.id, Timestamp(T0 + d)))
        .collect();
    assert_eq!(ids, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_loops_run_each_tick_once() {
    let backend = Arc::new(MemoryBackend::new());
    let clock = ManualClock::new(Timestamp(T0));
    let s = spec("shared", Schedule::every("1s").expect("valid"));
    let stops: Vec<_> = (0..5).map(|_| start(&backend, &clock, &s)).collect();
    until(&backend, &s.id, |_| true).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    for k in 1..=20u64 {
        clock.set(Timestamp(T0 + k * 1000));
        until(&backend, &s.id, |st| st.runs == k).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for s in stops {
        s.cancel();
    }
    let ids = drain(&backend, &s.id).await;
    assert_eq!(ids.len(), 20, "every tick once");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 20, "no tick twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berlin_spring_forward_day_on_a_moving_clock() {
    // 02:30 every day in Berlin; 2026-03-29's 02:30 does not exist: it runs at 03:00 CEST.
    let backend = Arc::new(MemoryBackend::new());
    let at = |s: &str| {
        let t: jiff::Timestamp = s.parse().expect("instant");
        Timestamp(t.as_millisecond() as u64)
    };
    let clock = ManualClock::new(at("2026-03-28T12:00:00Z"));
    let s = spec(
        "berlin",
        Schedule::cron("30 2 * * *")
            .and_then(|s| s.tz("Europe/Berlin"))
            .expect("valid"),
    );
    let stop = start(&backend, &clock, &s);
    until(&backend, &s.id, |_| true).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    clock.set(at("2026-03-29T00:59:59Z"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        backend
            .schedule(&s.id)
            .await
            .expect("read")
            .expect("stored")
            .state
            .runs,
        0
    );
    clock.set(at("2026-03-29T01:00:00Z"));
    until(&backend, &s.id, |st| st.runs == 1).await;
    clock.set(at("2026-03-30T00:30:00Z"));
    until(&backend, &s.id, |st| st.runs == 2).await;
    stop.cancel();
    let ids = drain(&backend, &s.id).await;
    assert_eq!(
        ids,
        [
            tick_id(&s.id, at("2026-03-29T01:00:00Z")),
            tick_id(&s.id, at("2026-03-30T00:30:00Z"))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_york_fall_back_day_on_a_moving_clock_under_both_policies() {
    // 01:30 every day in New York; on 2026-11-01 it happens twice (05:30Z EDT, 06:30Z EST).
    let at = |s: &str| {
        let t: jiff::Timestamp = s.parse().expect("instant");
        Timestamp(t.as_millisecond() as u64)
    };
    for (dst, want) in [
        (Dst::Vixie, vec!["2026-11-01T05:30:00Z"]),
        (
            Dst::Literal,
            vec!["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"],
        ),
    ] {
        let backend = Arc::new(MemoryBackend::new());
        let clock = ManualClock::new(at("2026-10-31T12:00:00Z"));
        let id = format!("ny-{dst:?}");
        let s = spec(
            &id,
            Schedule::cron("30 1 * * *")
                .and_then(|s| s.tz("America/New_York"))
                .expect("valid")
                .dst(dst),
        );
        let stop = start(&backend, &clock, &s);
        until(&backend, &s.id, |_| true).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        clock.set(at("2026-11-01T05:30:00Z"));
        until(&backend, &s.id, |st| st.runs == 1).await;
        clock.set(at("2026-11-01T06:30:00Z"));
        until(&backend, &s.id, |st| st.runs == want.len() as u64).await;
        // Just before the next day's run, nothing more ran.
        clock.set(at("2026-11-02T06:29:59Z"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.cancel();
        let ids = drain(&backend, &s.id).await;
        let want: Vec<_> = want.iter().map(|w| tick_id(&s.id, at(w))).collect();
        assert_eq!(ids, want, "{dst:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_ticks_are_events() {
    use taskq::events::{EventCursor, EventKind, EventRead};
    let backend = Arc::new(MemoryBackend::new());
    let clock = ManualClock::new(Timestamp(T0));
    let s = spec(
        "skips",
        Schedule::every("1s")
            .expect("valid")
            .overlap(taskq::schedule::Overlap::Skip),
    );
    let stop = start(&backend, &clock, &s);
    until(&backend, &s.id, |_| true).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    clock.set(Timestamp(T0 + 1_000));
    until(&backend, &s.id, |st| st.runs == 1).await;
    // The first run is still queued: the next tick is skipped.
    clock.set(Timestamp(T0 + 2_000));
    until(&backend, &s.id, |st| {
        st.last_tick == Some(Timestamp(T0 + 2_000))
    })
    .await;
    stop.cancel();
    let queues = [s.id.clone()];
    let events = backend
        .read_events(EventRead {
            queues: &queues,
            after: &EventCursor::default(),
            max: 100,
            wait: Duration::ZERO,
        })
        .await
        .expect("events");
    let kinds: Vec<_> = events.iter().map(|e| e.event.kind).collect();
    assert_eq!(
        kinds,
        [EventKind::Enqueued, EventKind::TickSkipped],
        "{events:?}"
    );
    let skipped = &events[1].event;
    assert_eq!(skipped.id, tick_id(&s.id, Timestamp(T0 + 2_000)));
    assert_eq!(skipped.at, Timestamp(T0 + 2_000));
    assert_eq!(skipped.detail.as_deref(), Some("overlap schedule skips"));
}
