//! The checks of what operators use: the event log, worker heartbeats, listing and inspection,
//! purging, dead letters by selection, pause and resume.

use std::time::{Duration, Instant};

use super::{env, fetch, fetch_one, publish, success, CheckResult, NOW, SHORT, TTL};
use crate::backend::{Backend, DeadSelection, ListState, RunningTask, WorkerInfo};
use crate::events::{Event, EventCursor, EventKind, EventRead};
use crate::message::{DeadLetterReason, FailureKind, Outcome, TaskFailure, TaskId, Timestamp};
use crate::state::TaskState;

fn ev(kind: EventKind, id: TaskId, q: &str, attempt: u32) -> Event {
    Event::new(kind, id, "conformance.task", q.to_owned()).attempt(attempt)
}

async fn read(
    b: &dyn Backend,
    q: &str,
    after: &EventCursor,
    max: usize,
    wait: Duration,
) -> Result<Vec<crate::events::StoredEvent>, String> {
    let queues = [q.to_owned()];
    b.read_events(EventRead {
        queues: &queues,
        after,
        max,
        wait,
    })
    .await
    .map_err(|e| format!("read_events failed: {e}"))
}

/// Reads until `want` events have come (appends may be written a few milliseconds later).
async fn read_n(
    b: &dyn Backend,
    q: &str,
    cursor: &mut EventCursor,
    want: usize,
) -> Result<Vec<crate::events::StoredEvent>, String> {
    let mut got = Vec::new();
    let deadline = Instant::now() + SHORT;
    while got.len() < want && Instant::now() < deadline {
        let batch = read(b, q, cursor, want - got.len(), Duration::from_millis(500)).await?;
        for e in &batch {
            cursor.advance(e);
        }
        got.extend(batch);
    }
    Ok(got)
}

pub(super) async fn events_are_read_in_order_and_resumed(b: &dyn Backend, q: &str) -> CheckResult {
    let ids: Vec<TaskId> = (0..5).map(|_| TaskId::new()).collect();
    for id in &ids {
        b.append_event(ev(EventKind::Enqueued, *id, q, 0));
    }
    for id in &ids {
        b.append_event(
            ev(EventKind::Succeeded, *id, q, 1)
                .runtime_ms(3)
                .worker(Some("w1".into())),
        );
    }
    let mut cursor = EventCursor::default();
    let first = read_n(b, q, &mut cursor, 4).await?;
    ensure!(
        first.len() == 4,
        "read {} events of the first 4",
        first.len()
    );
    // Resume from the text form of the cursor, as a reader that reconnects does.
    let mut resumed: EventCursor = cursor
        .to_string()
        .parse()
        .map_err(|e| format!("the cursor's text does not parse back: {e}"))?;
    let rest = read_n(b, q, &mut resumed, 6).await?;
    ensure!(
        rest.len() == 6,
        "read {} events after resuming, want 6",
        rest.len()
    );
    let all: Vec<&Event> = first.iter().chain(&rest).map(|s| &s.event).collect();
    for (i, id) in ids.iter().enumerate() {
        ensure!(
            all[i].id == *id && all[i].kind == EventKind::Enqueued,
            "event {i} is {:?}, want the enqueue of task {i}",
            all[i]
        );
        let done = all[5 + i];
        ensure!(
            done.id == *id
                && done.kind == EventKind::Succeeded
                && done.runtime_ms == Some(3)
                && done.worker.as_deref() == Some("w1")
                && done.queue == q
                && done.attempt == 1,
            "event {} came back as {done:?}",
            5 + i
        );
    }
    let positions: std::collections::HashSet<&str> = first
        .iter()
        .chain(&rest)
        .map(|s| s.position.as_str())
        .collect();
    ensure!(positions.len() == 10, "positions repeat: {positions:?}");
    let more = read(b, q, &resumed, 10, NOW).await?;
    ensure!(more.is_empty(), "read past the end gave {more:?}");

    // From "now": only what comes after.
    let queues = [q.to_owned()];
    let mut now = b
        .events_now(&queues)
        .await
        .map_err(|e| format!("events_now failed: {e}"))?;
    let late = TaskId::new();
    b.append_event(ev(EventKind::Started, late, q, 1));
    let after_now = read_n(b, q, &mut now, 1).await?;
    ensure!(
        after_now.len() == 1 && after_now[0].event.id == late,
        "a reader from now got {after_now:?}"
    );
    // Another queue's events are not in this one's log.
    let other = format!("{q}-other");
    b.append_event(ev(EventKind::Enqueued, TaskId::new(), &other, 0));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mine = read(b, q, &now, 10, NOW).await?;
    ensure!(mine.is_empty(), "another queue's event showed up: {mine:?}");
    Ok(())
}

pub(super) async fn event_readers_wake_on_append(b: &dyn Backend, q: &str) -> CheckResult {
    let queues = [q.to_owned()];
    let cursor = b
        .events_now(&queues)
        .await
        .map_err(|e| format!("events_now failed: {e}"))?;
    let id = TaskId::new();
    let started = Instant::now();
    let reading = read(b, q, &cursor, 10, Duration::from_secs(5));
    let appending = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.append_event(ev(EventKind::Enqueued, id, q, 0));
    };
    let (got, ()) = tokio::join!(reading, appending);
    let got = got?;
    let took = started.elapsed();
    ensure!(
        got.len() == 1 && got[0].event.id == id,
        "a waiting reader got {got:?}"
    );
    ensure!(
        took < Duration::from_secs(2),
        "a waiting reader woke {took:?} after the append, not at it"
    );
    Ok(())
}

pub(super) async fn heartbeats_expire_and_removal_is_immediate(
    b: &dyn Backend,
    q: &str,
) -> CheckResult {
    let mut w = WorkerInfo::new(format!("{q}-w1"));
    w.queues = vec![q.to_owned()];
    w.concurrency = 4;
    w.running.push(RunningTask {
        id: TaskId::new(),
        task: "conformance.task".into(),
        queue: q.to_owned(),
        attempt: 1,
        started_at: Timestamp::now(),
    });
    let w2 = WorkerInfo::new(format!("{q}-w2"));
    let hb = |w: &WorkerInfo, ttl| {
        let w = w.clone();
        async move {
            b.heartbeat(&w, ttl)
                .await
                .map_err(|e| format!("heartbeat failed: {e}"))
        }
    };
    hb(&w, Duration::from_millis(400)).await?;
    hb(&w2, Duration::from_secs(30)).await?;
    let mine = |all: Vec<WorkerInfo>| -> Vec<WorkerInfo> {
        all.into_iter().filter(|x| x.id.starts_with(q)).collect()
    };
    let live = mine(b.workers().await.map_err(|e| e.to_string())?);
    ensure!(live.len() == 2, "{} of 2 workers listed", live.len());
    let got = live
        .iter()
        .find(|x| x.id == w.id)
        .ok_or("the worker is not listed")?;
    ensure!(
        got.queues == w.queues && got.concurrency == 4 && got.running == w.running,
        "the worker came back as {got:?}"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    let live = mine(b.workers().await.map_err(|e| e.to_string())?);
    ensure!(
        live.len() == 1 && live[0].id == w2.id,
        "after its TTL the silent worker is still listed: {live:?}"
    );
    b.remove_worker(&w2.id).await.map_err(|e| e.to_string())?;
    let live = mine(b.workers().await.map_err(|e| e.to_string())?);
    ensure!(
        live.is_empty(),
        "a removed worker is still listed: {live:?}"
    );
    Ok(())
}

pub(super) async fn tasks_are_listed_by_state_with_paging(b: &dyn Backend, q: &str) -> CheckResult {
    let mut low = env(q, 1);
    low.priority = 1;
    let mut high = env(q, 2);
    high.priority = 8;
    let mid = env(q, 3);
    let mut later = env(q, 4);
    later.eta = Some(Timestamp::now().after(Duration::from_secs(60)));
    let leased = env(q, 5);
    let doomed = env(q, 6);
    let (leased_id, doomed_id, later_id) = (leased.id, doomed.id, later.id);
    publish(b, vec![leased, doomed]).await?;
    let ds = fetch(b, q, 2, NOW).await?;
    ensure!(ds.len() == 2, "fetched {} of 2", ds.len());
    let dead = ds
        .iter()
        .find(|d| d.envelope.id == doomed_id)
        .ok_or("the task to dead-letter was not fetched")?;
    let failure = TaskFailure::new(FailureKind::Rejected, "unknown task");
    b.dead_letter(
        &dead.lease,
        DeadLetterReason::UnknownTask,
        &failure,
        TTL,
        None,
    )
    .await
    .map_err(|e| e.to_string())?;
    let order = vec![high.id, mid.id, low.id];
    publish(b, vec![low, high, mid, later]).await?;
    // A live worker says it runs the leased task.
    let mut w = WorkerInfo::new(format!("{q}-holder"));
    w.running.push(RunningTask {
        id: leased_id,
        task: "conformance.task".into(),
        queue: q.to_owned(),
        attempt: 1,
        started_at: Timestamp::now(),
    });
    b.heartbeat(&w, Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;

    // Ready, one per page, in priority order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let page = b
            .list_tasks(q, ListState::Ready, cursor.as_deref(), 1)
            .await
            .map_err(|e| format!("list_tasks failed: {e}"))?;
        ensure!(
            page.items.len() <= 1,
            "a page of 1 had {}",
            page.items.len()
        );
        seen.extend(page.items.iter().map(|t| t.id));
        ensure!(
            page.items.iter().all(|t| t.state == ListState::Ready
                && t.envelope.as_ref().is_some_and(|e| e.queue == q)),
            "ready items came back as {:?}",
            page.items
        );
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    ensure!(seen == order, "ready pages gave {seen:?}, want {order:?}");

    let scheduled = b
        .list_tasks(q, ListState::Scheduled, None, 10)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        scheduled.items.len() == 1
            && scheduled.items[0].id == later_id
            && scheduled.items[0]
                .due_at
                .is_some_and(|t| t > Timestamp::now()),
        "scheduled listing is {:?}",
        scheduled.items
    );
    ensure!(
        scheduled.next.is_none(),
        "a complete page has a next cursor"
    );
    let running = b
        .list_tasks(q, ListState::Leased, None, 10)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        running.items.len() == 1
            && running.items[0].id == leased_id
            && running.items[0].lease_deadline.is_some()
            && running.items[0].worker.as_deref() == Some(w.id.as_str()),
        "leased listing is {:?}",
        running.items
    );
    let dead = b
        .list_tasks(q, ListState::Dead, None, 10)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        dead.items.len() == 1
            && dead.items[0].id == doomed_id
            && dead.items[0].reason == Some(DeadLetterReason::UnknownTask)
            && dead.items[0].envelope.is_some(),
        "dead listing is {:?}",
        dead.items
    );
    b.remove_worker(&w.id).await.map_err(|e| e.to_string())?;
    let queues = b
        .queues()
        .await
        .map_err(|e| format!("queues failed: {e}"))?;
    ensure!(queues.iter().any(|x| x == q), "queues() does not list {q}");
    Ok(())
}

pub(super) async fn inspect_gives_the_full_record(b: &dyn Backend, q: &str) -> CheckResult {
    let mut queued = env(q, 41);
    queued.parent_id = Some(TaskId::new());
    let queued_id = queued.id;
    let parent = queued.parent_id;
    publish(b, vec![queued]).await?;
    let d = b
        .inspect(queued_id)
        .await
        .map_err(|e| format!("inspect failed: {e}"))?
        .ok_or("a queued task is unknown to inspect")?;
    ensure!(
        d.state == TaskState::Pending
            && d.task.as_deref() == Some("conformance.task")
            && d.queue.as_deref() == Some(q)
            && d.created_at.is_some()
            && d.envelope.as_ref().is_some_and(|e| {
                e.args.as_str() == "41" && e.parent_id == parent && e.max_attempts == 3
            })
            && d.args.as_ref().is_some_and(|a| a.as_str() == "41"),
        "a queued task inspects as {d:?}"
    );
    let delivery = fetch_one(b, q, NOW).await?;
    let d = b
        .inspect(queued_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("a running task is unknown to inspect")?;
    ensure!(
        d.state == TaskState::Running && d.attempt == 1 && d.lease_deadline.is_some(),
        "a running task inspects as {d:?}"
    );
    let before = Timestamp::now();
    b.complete(&[success(&delivery, 42, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    let d = b
        .inspect(queued_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("a finished task is unknown to inspect")?;
    ensure!(
        d.state == TaskState::Succeeded
            && matches!(&d.outcome, Some(Outcome::Success(p)) if p.as_str() == "42")
            && d.task.as_deref() == Some("conformance.task")
            && d.started_at.is_some()
            && d.finished_at.is_some_and(|t| t.0 + 1_000 >= before.0)
            && d.attempt == 1
            && d.args.as_ref().is_some_and(|a| a.as_str() == "41"),
        "a finished task inspects as {d:?} (its arguments kept with the result)"
    );
    ensure!(
        b.inspect(TaskId::new())
            .await
            .map_err(|e| e.to_string())?
            .is_none(),
        "an unknown id inspects as something"
    );
    Ok(())
}

pub(super) async fn purge_queue_removes_waiting_tasks(b: &dyn Backend, q: &str) -> CheckResult {
    let running = env(q, 1);
    publish(b, vec![running]).await?;
    let held = fetch_one(b, q, NOW).await?;
    let mut later = env(q, 3);
    later.eta = Some(Timestamp::now().after(Duration::from_secs(60)));
    let waiting = env(q, 2);
    let waiting_id = waiting.id;
    publish(b, vec![waiting, later]).await?;
    let n = b
        .purge_queue(q)
        .await
        .map_err(|e| format!("purge_queue failed: {e}"))?;
    ensure!(n == 2, "purge removed {n}, want the 2 waiting tasks");
    ensure!(
        fetch(b, q, 10, NOW).await?.is_empty(),
        "a purged task was delivered"
    );
    let state = b
        .record(waiting_id)
        .await
        .map_err(|e| e.to_string())?
        .map(|r| r.state);
    ensure!(
        state == Some(TaskState::Cancelled),
        "a purged task is {state:?}, want cancelled"
    );
    let ok = b
        .complete(&[success(&held, 1, TTL)])
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        ok == vec![true],
        "the running task could not complete after a purge"
    );
    Ok(())
}

pub(super) async fn dead_letters_by_reason_and_limit(b: &dyn Backend, q: &str) -> CheckResult {
    let envs: Vec<_> = (0..5).map(|n| env(q, n)).collect();
    publish(b, envs).await?;
    let ds = fetch(b, q, 5, NOW).await?;
    ensure!(ds.len() == 5, "fetched {} of 5", ds.len());
    for (i, d) in ds.iter().enumerate() {
        let reason = if i < 3 {
            DeadLetterReason::AttemptsExhausted
        } else {
            DeadLetterReason::UndecodableArguments
        };
        let failure = TaskFailure::new(FailureKind::Error, format!("boom {i}"));
        b.dead_letter(&d.lease, reason, &failure, TTL, None)
            .await
            .map_err(|e| e.to_string())?;
    }
    let exhausted = DeadSelection::Reason(DeadLetterReason::AttemptsExhausted);
    let n = b
        .requeue_dead(q, &exhausted, 2)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(n == 2, "requeue with limit 2 moved {n}");
    let n = b
        .requeue_dead(q, &exhausted, 10)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(n == 1, "the second requeue moved {n}, want the 1 left");
    let back = fetch(b, q, 10, NOW).await?;
    ensure!(
        back.len() == 3,
        "{} requeued tasks came back, want 3",
        back.len()
    );
    let left = b.dead_letters(q, 10).await.map_err(|e| e.to_string())?;
    ensure!(
        left.len() == 2
            && left
                .iter()
                .all(|d| d.reason == DeadLetterReason::UndecodableArguments),
        "the other reason's dead letters did not stay: {left:?}"
    );
    let n = b
        .purge_dead(q, &DeadSelection::Reason(DeadLetterReason::UnknownTask), 10)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(n == 0, "purging a reason nobody has removed {n}");
    let n = b
        .purge_dead(
            q,
            &DeadSelection::Reason(DeadLetterReason::UndecodableArguments),
            1,
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure!(n == 1, "purge with limit 1 removed {n}");
    let left = b.dead_letters(q, 10).await.map_err(|e| e.to_string())?;
    ensure!(left.len() == 1, "{} dead letters left, want 1", left.len());
    Ok(())
}

pub(super) async fn paused_queue_is_not_fetched_until_resumed(
    b: &dyn Backend,
    q: &str,
) -> CheckResult {
    b.pause_queue(q)
        .await
        .map_err(|e| format!("pause failed: {e}"))?;
    let e = env(q, 7);
    let id = e.id;
    publish(b, vec![e]).await?;
    ensure!(
        fetch(b, q, 10, NOW).await?.is_empty(),
        "a paused queue's task was delivered"
    );
    let stats = b.queue_stats(q).await.map_err(|e| e.to_string())?;
    ensure!(
        stats.paused && stats.ready == 1,
        "a paused queue's stats are {stats:?}"
    );
    // A worker waiting on the paused queue is woken by the resume.
    let started = Instant::now();
    let waiting = fetch(b, q, 10, Duration::from_secs(5));
    let resuming = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.resume_queue(q).await
    };
    let (got, resumed) = tokio::join!(waiting, resuming);
    resumed.map_err(|e| format!("resume failed: {e}"))?;
    let got = got?;
    let took = started.elapsed();
    ensure!(
        got.len() == 1 && got[0].envelope.id == id,
        "after the resume the waiting fetch got {} tasks",
        got.len()
    );
    ensure!(
        took < Duration::from_secs(3),
        "the waiting fetch took {took:?}: the resume did not wake it"
    );
    let stats = b.queue_stats(q).await.map_err(|e| e.to_string())?;
    ensure!(!stats.paused, "a resumed queue is still paused");
    Ok(())
}
