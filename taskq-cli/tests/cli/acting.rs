//! The commands that act: `send`, `start-workflow`, `revoke`, `pause` / `resume`, `purge`.

use std::time::Duration;

use taskq::{TaskId, TaskState};

use crate::fixture::{Fixture, QUEUE};
use crate::harness::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_by_name_with_json_arguments() {
    let env = Env::start().await;
    let worker = env.worker(&[QUEUE]).await;
    // Named fields, as the task's struct serializes; --wait prints the result.
    let run = env
        .taskq(&[
            "send",
            "cli.add",
            "--queue",
            QUEUE,
            "--args",
            r#"{"a": 2, "b": 40}"#,
            "--wait",
            "10s",
        ])
        .await
        .ok();
    assert_eq!(run.stdout, "42\n");
    // Positional, as an array.
    let run = env
        .taskq(&[
            "send", "cli.add", "-q", QUEUE, "--args", "[20, 3]", "--wait", "--json",
        ])
        .await
        .ok();
    let v = run.json();
    assert_eq!(
        (v["state"].as_str(), v["result"].as_i64()),
        (Some("succeeded"), Some(23))
    );
    // Without --wait: the id, which `result --wait` then waits for.
    let run = env
        .taskq(&[
            "send",
            "cli.add",
            "-q",
            QUEUE,
            "--args",
            r#"{"a": 1, "b": 2}"#,
        ])
        .await
        .ok();
    let id = run.stdout.trim().to_owned();
    let _: TaskId = id.parse().unwrap();
    let run = env.taskq(&["result", &id, "--wait", "10s"]).await.ok();
    assert_eq!(run.stdout, "3\n");
    // A failure comes back as the task's error.
    let run = env
        .taskq(&[
            "send",
            "cli.fail",
            "-q",
            QUEUE,
            "--args",
            r#"{"message": "nope"}"#,
            "--wait",
        ])
        .await
        .ok();
    assert_eq!(run.stdout, "failed: error: nope\n");
    worker.shutdown().await.unwrap();

    // A countdown schedules it, with its priority.
    let run = env
        .taskq(&[
            "send",
            "cli.add",
            "-q",
            QUEUE,
            "--args",
            r#"{"a": 1, "b": 1}"#,
            "--countdown",
            "1m30s",
            "--priority",
            "8",
            "--json",
        ])
        .await
        .ok();
    let sent = run.json();
    assert_eq!(sent["task"], "cli.add");
    assert_eq!(sent["queue"], QUEUE);
    let id: TaskId = sent["id"].as_str().unwrap().parse().unwrap();
    let eta = sent["eta"].as_u64().unwrap();
    let now = taskq::Timestamp::now().as_millis();
    assert!((now + 80_000..=now + 91_000).contains(&eta), "{sent}");
    let detail = env.client.inspect(id).await.unwrap().unwrap();
    assert_eq!(detail.state, TaskState::Scheduled);
    assert_eq!(detail.envelope.unwrap().priority, 8);
    // An unknown task name is sent all the same: only a worker knows what it has.
    env.taskq(&["send", "cli.unheard_of", "-q", QUEUE])
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_a_workflow_by_name() {
    let env = Env::start().await;
    // `taskq.start_workflow` goes to the default queue.
    let worker = env.busy_worker(&[QUEUE, taskq::DEFAULT_QUEUE]).await;
    let run = env
        .taskq(&[
            "start-workflow",
            "cli.summed",
            r#"{"n": 4}"#,
            "--wait",
            "10s",
            "--json",
        ])
        .await
        .ok();
    let v = run.json();
    assert_eq!(v["workflow"], "cli.summed");
    let _: TaskId = v["start_task"].as_str().unwrap().parse().unwrap();
    let workflow = v["workflow_id"].as_str().unwrap().to_owned();
    let run = env
        .taskq(&["result", &workflow, "--wait", "10s"])
        .await
        .ok();
    assert_eq!(run.stdout, "10\n");

    // Without --wait, the start task's id; its result is the workflow's id.
    let run = env
        .taskq(&["start-workflow", "cli.summed", r#"{"n": 3}"#])
        .await
        .ok();
    let start = run.stdout.trim().to_owned();
    let run = env
        .taskq(&["result", &start, "--wait", "10s", "--json"])
        .await
        .ok();
    let workflow = run.json()["result"].as_str().unwrap().to_owned();
    let run = env
        .taskq(&["result", &workflow, "--wait", "10s"])
        .await
        .ok();
    assert_eq!(run.stdout, "6\n");

    // A workflow no worker has fails its start task with the reason.
    let run = env
        .taskq(&["start-workflow", "cli.unknown", "{}", "--wait", "10s"])
        .await;
    let line = run.fails(2);
    assert!(line.contains("no workflow named `cli.unknown`"), "{line}");
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_removes_waiting_tasks_and_stops_running_ones() {
    let f = Fixture::start().await;
    let run = f
        .env
        .taskq(&["revoke", &f.scheduled.to_string(), "--json"])
        .await
        .ok();
    assert_eq!(run.json()["outcome"], "removed");
    let run = f
        .env
        .taskq(&["result", &f.scheduled.to_string()])
        .await
        .ok();
    assert_eq!(run.stdout, "cancelled: cancelled: revoked\n");

    let run = f.env.taskq(&["revoke", &f.leased.to_string()]).await.ok();
    assert!(run.stdout.contains("it is running"), "{run:#?}");
    // Told at its worker's next lease extension (a third of the 3 s lease).
    let run = f
        .env
        .taskq(&["result", &f.leased.to_string(), "--wait", "5s", "--json"])
        .await
        .ok();
    assert_eq!(run.json()["state"], "cancelled");

    // A finished task: nothing to revoke, status 1.
    let run = f.env.taskq(&["revoke", &f.succeeded.to_string()]).await;
    assert!(run.fails(1).contains("already succeeded"));
    // An id nobody knows: 1, unless --force (a workflow whose last step does not exist yet).
    let id = TaskId::new().to_string();
    f.env.taskq(&["revoke", &id]).await.fails(1);
    f.env.taskq(&["revoke", &id, "--force"]).await.ok();
    let run = f.env.taskq(&["result", &id, "--json"]).await.ok();
    assert_eq!(run.json()["state"], "cancelled");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_fetching_and_resume_starts_it_again() {
    let env = Env::start().await;
    let worker = env.worker(&[QUEUE]).await;
    let run = env.taskq(&["pause", QUEUE, "--json"]).await.ok();
    assert_eq!(
        run.json(),
        serde_json::json!({"queue": QUEUE, "paused": true})
    );
    let rows = env.taskq(&["queues", "--json", QUEUE]).await.ok().json();
    assert_eq!(rows[0]["paused"], true);
    let table = env.taskq(&["queues", QUEUE]).await.ok().stdout;
    assert!(table.contains("yes"), "{table}");

    let h = env
        .client
        .send(crate::fixture::add::new(4, 5))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(h.state().await.unwrap(), TaskState::Pending);

    let run = env.taskq(&["resume", QUEUE]).await.ok();
    assert_eq!(run.stdout, format!("resumed queue `{QUEUE}`\n"));
    assert_eq!(h.get_timeout(Duration::from_secs(10)).await.unwrap(), 9);
    let rows = env.taskq(&["queues", "--json", QUEUE]).await.ok().json();
    assert_eq!(rows[0]["paused"], false);
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_what_waits_after_confirmation() {
    let f = Fixture::start().await;
    // Standard input is not a terminal here: no --yes, no purge.
    let run = f.env.taskq(&["purge", QUEUE]).await;
    assert!(run.fails(2).contains("pass `--yes`"), "{run:#?}");
    let stats = f.env.client.backend().queue_stats(QUEUE).await.unwrap();
    assert_eq!((stats.ready, stats.delayed), (2, 1));

    let run = f.env.taskq(&["purge", QUEUE, "--yes", "--json"]).await.ok();
    assert_eq!(run.json(), serde_json::json!({"queue": QUEUE, "purged": 3}));
    let stats = f.env.client.backend().queue_stats(QUEUE).await.unwrap();
    assert_eq!(
        (stats.ready, stats.delayed, stats.running, stats.dead),
        (0, 0, 1, 2)
    );
    // Whoever waits for a purged task learns it was cancelled.
    let run = f
        .env
        .taskq(&["result", &f.ready[0].to_string(), "--json"])
        .await
        .ok();
    assert_eq!(run.json()["state"], "cancelled");
    let run = f.env.taskq(&["purge", QUEUE, "-y"]).await.ok();
    assert_eq!(run.stdout, format!("purged 0 tasks of queue `{QUEUE}`\n"));
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ready_tasks_of_a_purged_queue_never_run() {
    let env = Env::start().await;
    for _ in 0..5 {
        env.client
            .send(crate::fixture::add::new(1, 1))
            .await
            .unwrap();
    }
    env.taskq(&["purge", QUEUE, "--yes"]).await.ok();
    let worker = env.worker(&[QUEUE]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = worker.shutdown().await.unwrap();
    assert_eq!(report.succeeded, 0);
    let s = env.client.backend().queue_stats(QUEUE).await.unwrap();
    assert_eq!((s.ready, s.delayed, s.running), (0, 0, 0), "{s:?}");
}
