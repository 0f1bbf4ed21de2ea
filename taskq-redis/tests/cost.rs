//! What a task costs the Redis server, end to end (send, fetch, run a no-op, store the result,
//! wake the waiter): commands per task, and server CPU per task against plain pipelined `SET`s.
//! Prints the figures; asserts only on the command count, which does not depend on the load
//! of the machine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use taskq::{Client, Worker};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_per_task_on_the_server() {
    const TASKS: u32 = 4_000;
    const PRODUCERS: u32 = 16;
    let server = RedisServer::start();
    let backend = RedisBackend::connect(&server.url()).await.expect("connect");
    let client = Client::new(Arc::new(backend));
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["cost"])
        .concurrency(256)
        .spawn()
        .expect("worker");
    // Warm up (scripts loaded, connections open, subscription in place).
    noop::new(0)
        .delay_on(&client)
        .await
        .expect("send")
        .get()
        .await
        .expect("warm up");

    server.query(&["CONFIG", "RESETSTAT"]).expect("resetstat");
    if std::env::var("COST_SLOWLOG").is_ok() {
        server
            .query(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])
            .expect("slowlog");
        server
            .query(&["CONFIG", "SET", "slowlog-max-len", "100000"])
            .expect("slowlog");
        server.query(&["SLOWLOG", "RESET"]).expect("slowlog");
    }
    let cpu0 = cpu_seconds(&server);
    let started = Instant::now();
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let client = client.clone();
        producers.push(tokio::spawn(async move {
            let mut handles = Vec::new();
            for n in (p..TASKS).step_by(PRODUCERS as usize) {
                handles.push(noop::new(n).delay_on(&client).await.expect("send"));
            }
            for h in handles {
                h.get_timeout(Duration::from_secs(60))
                    .await
                    .expect("result");
            }
        }));
    }
    for p in producers {
        p.await.expect("producer");
    }
    let elapsed = started.elapsed();
    let task_cpu = cpu_seconds(&server) - cpu0;
    let calls = command_calls(&server);
    worker.shutdown().await.expect("shutdown");
    if std::env::var("COST_SLOWLOG").is_ok() {
        server
            .query(&["CONFIG", "SET", "slowlog-log-slower-than", "10000"])
            .expect("slowlog");
        if let Ok(redis::Value::Array(entries)) = server.query(&["SLOWLOG", "GET", "100000"]) {
            let mut by: HashMap<String, (u64, i64)> = HashMap::new();
            for e in entries {
                if let redis::Value::Array(f) = e {
                    let us = match &f[2] {
                        redis::Value::Int(i) => *i,
                        _ => 0,
                    };
                    let name = match &f[3] {
                        redis::Value::Array(a) => a
                            .iter()
                            .take(4)
                            .map(|v| match v {
                                redis::Value::BulkString(b) => String::from_utf8_lossy(b)
                                    .chars()
                                    .take(12)
                                    .collect::<String>(),
                                _ => String::new(),
                            })
                            .collect::<Vec<_>>()
                            .join(" "),
                        _ => String::new(),
                    };
                    let e = by.entry(name).or_default();
                    e.0 += 1;
                    e.1 += us;
                }
            }
            let mut v: Vec<_> = by.into_iter().collect();
            v.sort_by_key(|x| -x.1 .1);
            for (k, (n, us)) in v.iter().take(12) {
                eprintln!("slowlog {k:<50} n={n} avg={:.1}us", *us as f64 / *n as f64);
            }
        }
    }

    // The same server's cost of plain SETs, pipelined 16 deep.
    let sets = 40_000u32;
    let redis_client = redis::Client::open(server.url()).expect("client");
    let mut conn = redis_client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let cpu1 = cpu_seconds(&server);
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
    let set_cpu = cpu_seconds(&server) - cpu1;

    let total: u64 = calls.values().map(|c| c.0).sum();
    let mut by_name: Vec<_> = calls.iter().collect();
    by_name.sort_by(|a, b| b.1.cmp(a.1));
    let per_task = |n: u64| n as f64 / f64::from(TASKS);
    let us_task = task_cpu * 1e6 / f64::from(TASKS);
    let us_set = set_cpu * 1e6 / f64::from(sets);
    eprintln!(
        "tasks: {TASKS} in {elapsed:?} ({:.0} tasks/s, debug build)",
        f64::from(TASKS) / elapsed.as_secs_f64()
    );
    eprintln!(
        "commands per task (inside scripts included): {:.2}",
        per_task(total)
    );
    for (name, (n, usec)) in &by_name {
        eprintln!(
            "  {name:<14} {:.3} calls/task {:>6.2} us/task",
            per_task(*n),
            per_task(*usec)
        );
    }
    eprintln!("redis_cpu_us_per_task: {us_task:.2}");
    eprintln!("redis_cpu_us_per_set: {us_set:.3}");
    eprintln!("redis_set_equivalents_per_task: {:.2}", us_task / us_set);
    assert!(
        per_task(total) < 16.0,
        "{:.2} commands per task",
        per_task(total)
    );
}
