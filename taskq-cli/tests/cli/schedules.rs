//! `taskq schedule create|list|pause|resume|trigger|delete` against a private Redis, with a
//! worker that runs the scheduler loop.

use crate::harness::{eventually, Env};

const QUEUE: &str = "sched-cli";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_created_listed_paused_triggered_and_deleted() {
    let env = Env::start().await;
    let run = env
        .taskq(&[
            "schedule",
            "create",
            "adder",
            "--task",
            "cli.add",
            "--every",
            "1s",
            "--queue",
            QUEUE,
            "--args",
            r#"{"a": 1, "b": 2}"#,
            "--overlap",
            "skip",
        ])
        .await
        .ok();
    assert!(
        run.stdout.starts_with("created schedule `adder`"),
        "{}",
        run.stdout
    );
    // Again: the same id is updated, not duplicated.
    let run = env
        .taskq(&[
            "schedule",
            "create",
            "adder",
            "--task",
            "cli.add",
            "--every",
            "1s",
            "--queue",
            QUEUE,
            "--args",
            r#"{"a": 1, "b": 2}"#,
            "--overlap",
            "skip",
        ])
        .await
        .ok();
    assert!(
        run.stdout.starts_with("updated schedule `adder`"),
        "{}",
        run.stdout
    );

    let run = env
        .taskq(&["schedule", "list", "--next", "4", "--json"])
        .await
        .ok();
    let v = run.json();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["spec"]["id"], "adder");
    assert_eq!(rows[0]["spec"]["overlap"], "skip");
    let next = rows[0]["next"].as_array().unwrap();
    assert_eq!(next.len(), 4);
    let (a, b) = (next[0].as_u64().unwrap(), next[1].as_u64().unwrap());
    assert_eq!(b - a, 1000, "one second apart");
    assert_eq!(a % 1000, 0, "on the second");
    let table = env.taskq(&["schedule", "list"]).await.ok();
    assert!(
        table.stdout.contains("every 1.0s") || table.stdout.contains("every 1"),
        "{}",
        table.stdout
    );

    // A worker's scheduler loop runs it.
    let worker = env.worker(&[QUEUE]).await;
    eventually("the schedule ran", || async {
        let v = env.taskq(&["schedule", "list", "--json"]).await.ok().json();
        v[0]["state"]["runs"].as_u64().unwrap_or(0) >= 2
    })
    .await;

    env.taskq(&["schedule", "pause", "adder"]).await.ok();
    let v = env.taskq(&["schedule", "list", "--json"]).await.ok().json();
    assert_eq!(v[0]["state"]["paused"], true);
    eventually("paused ticks are recorded", || async {
        let v = env.taskq(&["schedule", "list", "--json"]).await.ok().json();
        v[0]["state"]["skipped"]["paused"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    env.taskq(&["schedule", "resume", "adder"]).await.ok();
    let v = env.taskq(&["schedule", "list", "--json"]).await.ok().json();
    assert_eq!(v[0]["state"]["paused"], false);

    // Trigger: one run now, whose result can be waited for.
    let v = env
        .taskq(&["schedule", "trigger", "adder", "--json"])
        .await
        .ok()
        .json();
    let id = v["task_id"].as_str().unwrap().to_owned();
    let run = env.taskq(&["result", &id, "--wait", "10s"]).await.ok();
    assert_eq!(run.stdout, "3\n");

    env.taskq(&["schedule", "delete", "adder"]).await.ok();
    let v = env.taskq(&["schedule", "list", "--json"]).await.ok().json();
    assert_eq!(v.as_array().unwrap().len(), 0);
    let gone = env.taskq(&["schedule", "delete", "adder"]).await;
    assert!(gone.fails(1).contains("no schedule `adder`"));
    let gone = env.taskq(&["schedule", "trigger", "adder"]).await;
    gone.fails(1);
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedules_are_refused() {
    let env = Env::start().await;
    let run = env
        .taskq(&[
            "schedule",
            "create",
            "x",
            "--task",
            "cli.add",
            "--cron",
            "0 25 * * *",
        ])
        .await;
    assert!(
        run.fails(2).contains("bad cron expression"),
        "{}",
        run.fails(2)
    );
    let run = env
        .taskq(&[
            "schedule",
            "create",
            "x",
            "--task",
            "cli.add",
            "--cron",
            "0 9 * * *",
            "--tz",
            "Mars/Base",
        ])
        .await;
    assert!(run.fails(2).contains("unknown time zone `Mars/Base`"));
    let run = env
        .taskq(&[
            "schedule", "create", "x", "--task", "cli.add", "--every", "soon",
        ])
        .await;
    assert!(run.fails(2).contains("bad interval"));
}
