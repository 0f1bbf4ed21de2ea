//! What a task costs the Redis server, end to end (send, fetch, run a no-op, store the result,
//! wake the waiter): commands per task, and server CPU per task against plain pipelined `SET`s,
//! with the event log off and then on, in the same run. Prints the figures; asserts on the
//! command counts, which do not depend on the load of the machine, and that with events on
//! the log holds every task's enqueued, started and succeeded, once each and in that order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use taskq::events::{EventCursor, EventKind, EventRead};
use taskq::{Client, TaskId, Worker};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

#[taskq::task(name = "cost.noop", queue = "cost")]
async fn noop(n: u32) -> u32 {
    n
}

fn info(server: &RedisServer, section: &str) -> String {
    match server.query(&["INFO", section]) {
        Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(redis::Value::VerbatimString { text, .. }) => text,
        other => panic!("INFO {section}: {other:?}"),
    }
}

fn cpu_seconds(server: &RedisServer) -> f64 {
    info(server, "cpu")
        .lines()
        .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

/// Calls and microseconds per command name.
fn command_calls(server: &RedisServer) -> HashMap<String, (u64, u64)> {
    taskq_redis::testing::command_stats(&info(server, "commandstats"))
        .into_iter()
        .map(|s| (s.name, (s.calls, s.usec)))
        .collect()
}

/// What one round measured.
struct Round {
    tasks_per_s: f64,
    commands_per_task: f64,
    cpu_us_per_task: f64,
    calls: HashMap<String, (u64, u64)>,
}

const TASKS: u32 = 4_000;
const PRODUCERS: u32 = 16;

/// Sends `TASKS` no-ops from `PRODUCERS` producers and awaits them all; the ids sent.
async fn round(server: &RedisServer, client: &Client) -> (Round, Vec<TaskId>) {
    server.query(&["CONFIG", "RESETSTAT"]).expect("resetstat");
    let cpu0 = cpu_seconds(server);
    let started = Instant::now();
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let client = client.clone();
        producers.push(tokio::spawn(async move {
            let mut handles = Vec::new();
            for n in (p..TASKS).step_by(PRODUCERS as usize) {
                handles.push(noop::new(n).delay_on(&client).await.expect("send"));
            }
            let mut ids = Vec::new();
            for h in handles {
                ids.push(h.id());
                h.get_timeout(Duration::from_secs(60))
                    .await
                    .expect("result");
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for p in producers {
        ids.extend(p.await.expect("producer"));
    }
    let elapsed = started.elapsed();
    let task_cpu = cpu_seconds(server) - cpu0;
    let calls = command_calls(server);
    let total: u64 = calls
        .iter()
        .filter(|(name, _)| !name.starts_with("config"))
        .map(|(_, c)| c.0)
        .sum();
    (
        Round {
            tasks_per_s: f64::from(TASKS) / elapsed.as_secs_f64(),
            commands_per_task: total as f64 / f64::from(TASKS),
            cpu_us_per_task: task_cpu * 1e6 / f64::from(TASKS),
            calls,
        },
        ids,
    )
}

/// The same server's cost of one plain `SET`, pipelined 16 deep (µs of server CPU).
async fn set_cost_us(server: &RedisServer) -> f64 {
    let sets = 40_000u32;
    let redis_client = redis::Client::open(server.url()).expect("client");
    let mut conn = redis_client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let cpu1 = cpu_seconds(server);
    for round in 0..sets / 16 {
        let mut pipe = redis::pipe();
        for i in 0..16 {
            pipe.cmd("SET")
                .arg(format!("bench:set:{}", (round * 16 + i) % 1024))
                .arg("x")
                .ignore();
        }
        let () = pipe.query_async(&mut conn).await.expect("sets");
    }
    (cpu_seconds(server) - cpu1) * 1e6 / f64::from(sets)
}

fn report(prefix: &str, r: &Round, us_set: f64) {
    let per_task = |n: u64| n as f64 / f64::from(TASKS);
    let mut by_name: Vec<_> = r.calls.iter().collect();
    by_name.sort_by(|a, b| b.1.cmp(a.1));
    eprintln!(
        "{prefix}commands per task (inside scripts included): {:.2}",
        r.commands_per_task
    );
    for (name, (n, usec)) in &by_name {
        eprintln!(
            "  {name:<14} {:.3} calls/task {:>6.2} us/task",
            per_task(*n),
            per_task(*usec)
        );
    }
    eprintln!(
        "{prefix}end_to_end_tasks_per_s: {:.0} (debug build)",
        r.tasks_per_s
    );
    eprintln!("{prefix}redis_cpu_us_per_task: {:.2}", r.cpu_us_per_task);
    eprintln!(
        "{prefix}redis_set_equivalents_per_task: {:.2}",
        r.cpu_us_per_task / us_set
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_per_task_on_the_server_with_events_off_and_on() {
    let server = RedisServer::start();
    let backend = Arc::new(RedisBackend::connect(&server.url()).await.expect("connect"));
    let client = Client::new(backend.clone());
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["cost"])
        .concurrency(256)
        .spawn()
        .expect("worker");
    // Warm up (scripts loaded, connections open, subscription in place).
    taskq::events::set_enabled(false);
    noop::new(0)
        .delay_on(&client)
        .await
        .expect("send")
        .get()
        .await
        .expect("warm up");

    let (off, _) = round(&server, &client).await;
    taskq::events::set_enabled(true);
    let (on, ids) = round(&server, &client).await;
    worker.shutdown().await.expect("shutdown");
    let us_set = set_cost_us(&server).await;
    eprintln!("redis_cpu_us_per_set: {us_set:.3}");
    report("", &off, us_set);
    report("events_on_", &on, us_set);
    let xadds = on.calls.get("xadd").map_or(0, |c| c.0) as f64 / f64::from(TASKS);
    eprintln!("events_on_xadd_per_task: {xadds:.3}");

    assert!(
        off.commands_per_task < 16.0,
        "{:.2} commands per task",
        off.commands_per_task
    );
    // Events ride the writes there are anyway: well under one XADD per task (three events).
    assert!(xadds < 0.5, "{xadds:.3} XADDs per task");
    assert!(
        on.commands_per_task < off.commands_per_task + 0.5,
        "events on: {:.2} commands per task, off: {:.2}",
        on.commands_per_task,
        off.commands_per_task
    );

    // Every task of the events-on round is in the log once, in the order of its life.
    let queues = ["cost".to_owned()];
    let mut cursor = EventCursor::default();
    let mut seen: HashMap<TaskId, Vec<EventKind>> = HashMap::new();
    loop {
        let got = taskq::backend::Backend::read_events(
            &*backend,
            EventRead {
                queues: &queues,
                after: &cursor,
                max: 5_000,
                wait: Duration::from_millis(200),
            },
        )
        .await
        .expect("read events");
        if got.is_empty() {
            break;
        }
        for e in got {
            cursor.advance(&e);
            seen.entry(e.event.id).or_default().push(e.event.kind);
        }
    }
    assert_eq!(seen.len(), ids.len(), "tasks in the log");
    for id in &ids {
        assert_eq!(
            seen.get(id).map(Vec::as_slice),
            Some(
                &[
                    EventKind::Enqueued,
                    EventKind::Started,
                    EventKind::Succeeded
                ][..]
            ),
            "the events of task {id}"
        );
    }
}
