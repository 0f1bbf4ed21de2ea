//! Three scheduler processes (`schedule_worker`) on a private `redis-server` share a
//! one-second schedule; one is SIGKILLed mid-run. Every tick from the first to the last runs
//! exactly once: no duplicates, no gaps.
//!
//! The run lasts a minute, as the issue asks; the kill comes after 20 seconds.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use taskq::schedule::tick_id;
use taskq::Timestamp;
use taskq_redis::testing::RedisServer;

struct Proc(Child);

impl Proc {
    fn spawn(url: &str) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_schedule_worker"))
            .env("TASKQ_URL", url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the scheduler process");
        Self(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn runs(server: &RedisServer) -> Vec<String> {
    match server.query(&["LRANGE", "schedule:runs", "0", "-1"]) {
        Ok(redis::Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                redis::Value::BulkString(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                _ => None,
            })
            .collect(),
        other => panic!("LRANGE answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_schedulers_one_killed_run_every_tick_once() {
    let server = RedisServer::start();
    let url = server.url();
    let started = Timestamp::now();
    let mut procs: Vec<Proc> = (0..3).map(|_| Proc::spawn(&url)).collect();
    tokio::time::sleep(Duration::from_secs(20)).await;
    procs[0].kill();
    tokio::time::sleep(Duration::from_secs(40)).await;
    for p in &mut procs[1..] {
        p.terminate();
    }
    let ended = Timestamp::now();

    // Which tick each run was: the id is derived from the schedule and the nominal instant.
    let by_id: BTreeMap<String, u64> = (started.0 / 1000..=ended.0 / 1000 + 1)
        .map(|s| {
            (
                tick_id("crash-every-second", Timestamp(s * 1000)).to_string(),
                s,
            )
        })
        .collect();
    let mut per_tick: BTreeMap<u64, usize> = BTreeMap::new();
    for id in runs(&server) {
        let second = by_id
            .get(&id)
            .unwrap_or_else(|| panic!("a run of no tick of this test: {id}"));
        *per_tick.entry(*second).or_default() += 1;
    }
    let twice: Vec<_> = per_tick.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "ticks that ran more than once: {twice:?}");
    let (first, last) = (
        *per_tick.keys().next().expect("some tick ran"),
        *per_tick.keys().last().expect("some tick ran"),
    );
    let gaps: Vec<u64> = (first..=last)
        .filter(|s| !per_tick.contains_key(s))
        .collect();
    assert!(gaps.is_empty(), "ticks that never ran: {gaps:?}");
    assert!(
        last - first >= 54,
        "only {} ticks ran in 60 s ({first}..={last})",
        last - first + 1
    );
}
