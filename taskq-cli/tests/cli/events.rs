//! `taskq events`: what a worker in another process did, from the backend's event log; live
//! with `--follow`, resumable with `--after`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use taskq::events::EventCursor;
use taskq::TaskId;

use crate::fixture::{add, fail, QUEUE};
use crate::harness::Env;

/// A `taskq events --follow` process, its stdout read line by line on a thread.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn spawn(env: &Env, args: &[&str]) -> Follower {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_taskq"))
            .args(["--url", &env.url, "events", "--follow"])
            .args(args)
            .env_remove(taskq::URL_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    /// The next line, waiting up to `within`.
    async fn next(&self, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            match self.lines.try_recv() {
                Ok(line) => return Some(line),
                Err(mpsc::TryRecvError::Disconnected) => return None,
                Err(mpsc::TryRecvError::Empty) if Instant::now() >= deadline => return None,
                Err(mpsc::TryRecvError::Empty) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Lines as JSON until `done` says enough, or 15 s pass.
    async fn collect(&self, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut got = Vec::new();
        while !done(&got) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = self.next(left).await else {
                panic!("no more events after {got:#?}");
            };
            got.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
        got
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kinds_by_task(events: &[Value]) -> HashMap<String, Vec<String>> {
    let mut by: HashMap<String, Vec<String>> = HashMap::new();
    for e in events {
        by.entry(e["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(e["kind"].as_str().unwrap().to_owned());
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_sees_every_event_of_tasks_run_by_a_worker_once_in_order() {
    let env = Env::start().await;
    let worker = env.busy_worker(&[QUEUE]).await;
    // Before the cursor: not to be printed.
    let before = env.client.send(add::new(0, 0)).await.unwrap();
    before.get_timeout(Duration::from_secs(10)).await.unwrap();
    let cursor: EventCursor = env
        .client
        .backend()
        .events_now(&[QUEUE.to_owned()])
        .await
        .unwrap();
    let cursor = cursor.to_string();
    let follower = Follower::spawn(&env, &["--json", "--queue", QUEUE, "--after", &cursor]);

    let mut ids: Vec<TaskId> = Vec::new();
    for i in 0..20 {
        ids.push(env.client.send(add::new(i, i)).await.unwrap().id());
    }
    let failed = env.client.send(fail::new("bad".into())).await.unwrap().id();
    let total = ids.len() * 3 + 4;
    let events = follower.collect(|got| got.len() >= total).await;
    // Nothing more is coming: every event was printed once.
    assert!(follower.next(Duration::from_millis(500)).await.is_none());

    let by = kinds_by_task(&events);
    assert!(!by.contains_key(&before.id().to_string()), "{events:#?}");
    for id in &ids {
        assert_eq!(
            by[&id.to_string()],
            ["enqueued", "started", "succeeded"],
            "{events:#?}"
        );
    }
    assert_eq!(
        by[&failed.to_string()],
        ["enqueued", "started", "failed", "dead_lettered"]
    );
    let failure = events.iter().find(|e| e["kind"] == "failed").unwrap();
    assert_eq!(failure["detail"], "bad");
    assert_eq!(failure["failure"], "error");
    let started = events.iter().find(|e| e["kind"] == "started").unwrap();
    assert_eq!(started["queue"], QUEUE);
    assert_eq!(started["task"], "cli.add");
    assert_eq!(started["attempt"], 1);
    assert!(started["worker"].is_string(), "{started}");
    assert!(started["position"].is_string(), "{started}");
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_starts_at_now_and_finds_new_queues() {
    let env = Env::start().await;
    let worker = env.busy_worker(&[QUEUE, "other"]).await;
    let old = env.client.send(add::new(1, 1)).await.unwrap();
    old.get_timeout(Duration::from_secs(10)).await.unwrap();
    // Every queue, from now on, for people.
    let follower = Follower::spawn(&env, &[]);
    // It may not be listening yet: send until it prints something.
    let mut sent = Vec::new();
    let line = loop {
        let h = env.client.send(add::new(2, 2)).await.unwrap();
        sent.push(h.id().to_string());
        h.get_timeout(Duration::from_secs(10)).await.unwrap();
        if let Some(line) = follower.next(Duration::from_millis(300)).await {
            break line;
        }
        assert!(sent.len() < 30, "the follower printed nothing");
    };
    assert!(!line.contains(&old.id().to_string()), "{line}");
    assert!(sent.iter().any(|id| line.contains(id.as_str())), "{line}");
    assert!(line.contains(QUEUE) && line.contains("cli.add"), "{line}");

    // A queue that did not exist when it started.
    let call = add::new(5, 5).queue("other");
    let h = env.client.send(call).await.unwrap();
    h.get_timeout(Duration::from_secs(10)).await.unwrap();
    let id = h.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.contains(&id) && l.contains("succeeded"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match follower.next(left).await {
            Some(l) => seen.push(l),
            None => panic!("no succeeded event of {id} on `other`: {seen:#?}"),
        }
    }
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_without_follow_prints_what_is_retained_and_exits() {
    let env = Env::start().await;
    let worker = env.busy_worker(&[QUEUE]).await;
    let h = env.client.send(add::new(1, 2)).await.unwrap();
    h.get_timeout(Duration::from_secs(10)).await.unwrap();
    let f = env.client.send(fail::new("x".into())).await.unwrap();
    assert!(f.get_timeout(Duration::from_secs(10)).await.is_err());
    worker.shutdown().await.unwrap();

    let run = env.taskq(&["events", "--json"]).await.ok();
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by = kinds_by_task(&events);
    assert_eq!(
        by[&h.id().to_string()],
        ["enqueued", "started", "succeeded"]
    );

    // Filters: one task; one kind; a limit.
    let id = f.id().to_string();
    let run = env.taskq(&["events", "--id", &id, "--json"]).await.ok();
    assert_eq!(run.stdout.lines().count(), 4, "{run:#?}");
    let run = env
        .taskq(&["events", "--kind", "failed", "--queue", QUEUE])
        .await
        .ok();
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
    assert!(
        run.stdout.contains("failed") && run.stdout.contains("error: x"),
        "{run:#?}"
    );
    let run = env.taskq(&["events", "--limit", "2", "--json"]).await.ok();
    assert_eq!(run.stdout.lines().count(), 2, "{run:#?}");

    // Resuming after the second event prints the rest.
    let second: Value = serde_json::from_str(run.stdout.lines().nth(1).unwrap()).unwrap();
    let cursor = serde_json::json!({ QUEUE: second["position"] }).to_string();
    let run = env
        .taskq(&["events", "--after", &cursor, "--json"])
        .await
        .ok();
    assert_eq!(run.stdout.lines().count(), events.len() - 2, "{run:#?}");
    let run = env.taskq(&["events", "--queue", "never"]).await.ok();
    assert_eq!(run.stdout, "no events\n");
}
