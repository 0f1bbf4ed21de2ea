//! The commands that read: `queues`, `tasks`, `inspect`, `result`, `workers`, against a queue
//! with a task in every state.

use serde_json::Value;
use taskq::TaskId;

use crate::fixture::{Fixture, QUEUE};

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_counts_every_state() {
    let f = Fixture::start().await;
    let rows = f.env.taskq(&["queues", "--json"]).await.ok().json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["queue"] == QUEUE)
        .unwrap_or_else(|| panic!("no row for `{QUEUE}`: {rows}"));
    assert_eq!(row["ready"], 2, "{row}");
    assert_eq!(row["scheduled"], 1, "{row}");
    assert_eq!(row["leased"], 1, "{row}");
    // The failed task (one attempt allowed) is dead too: `attempts_exhausted`.
    assert_eq!(row["dead"], 2, "{row}");
    assert_eq!(row["paused"], false, "{row}");
    assert!(row["oldest_ready"].is_u64(), "{row}");

    let table = f.env.taskq(&["queues"]).await.ok().stdout;
    let line = table.lines().find(|l| l.contains(QUEUE)).unwrap();
    let cells: Vec<&str> = line
        .split(['│', '┆'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(&cells[..6], &[QUEUE, "2", "1", "1", "2", "no"], "{table}");
    assert!(
        table.contains("READY") && table.contains("PAUSED"),
        "{table}"
    );

    // Named queues only, and one never seen is all zeros.
    let rows = f
        .env
        .taskq(&["queues", "--json", "elsewhere"])
        .await
        .ok()
        .json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["queue"], "elsewhere");
    assert_eq!(rows[0]["ready"], 0);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_lists_each_state() {
    let f = Fixture::start().await;
    let list = |state: &'static str| {
        let env = &f.env;
        async move {
            env.taskq(&["tasks", QUEUE, "--state", state, "--json"])
                .await
                .ok()
                .json()
        }
    };
    let ready = list("ready").await;
    assert_eq!(ready["state"], "ready");
    assert_eq!(
        ids(&ready["items"]),
        f.ready.iter().map(TaskId::to_string).collect::<Vec<_>>()
    );
    let scheduled = list("scheduled").await;
    assert_eq!(ids(&scheduled["items"]), vec![f.scheduled.to_string()]);
    assert!(scheduled["items"][0]["due_at"].is_u64(), "{scheduled}");
    let leased = list("leased").await;
    assert_eq!(ids(&leased["items"]), vec![f.leased.to_string()]);
    assert!(leased["items"][0]["lease_deadline"].is_u64(), "{leased}");
    let workers = f.env.taskq(&["workers", "--json"]).await.ok().json();
    assert_eq!(
        leased["items"][0]["worker"], workers[0]["id"],
        "{leased} {workers}"
    );
    let dead = list("dead").await;
    assert_eq!(
        ids(&dead["items"]),
        vec![f.failed.to_string(), f.dead.to_string()]
    );
    assert_eq!(dead["items"][0]["reason"], "attempts_exhausted");
    assert_eq!(dead["items"][1]["reason"], "unknown_task");

    // Paging: one at a time, the cursor leads to the second.
    let first = f
        .env
        .taskq(&["tasks", QUEUE, "--state", "ready", "--limit", "1", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(ids(&first["items"]), vec![f.ready[0].to_string()]);
    let next = first["next"].as_str().unwrap();
    let second = f
        .env
        .taskq(&[
            "tasks", QUEUE, "--state", "ready", "--limit", "1", "--cursor", next, "--json",
        ])
        .await
        .ok()
        .json();
    assert_eq!(ids(&second["items"]), vec![f.ready[1].to_string()]);

    // For people: a table, and the way to the next page.
    let table = f
        .env
        .taskq(&["tasks", QUEUE, "--state", "ready", "--limit", "1"])
        .await
        .ok()
        .stdout;
    assert!(table.contains(&f.ready[0].to_string()), "{table}");
    assert!(table.contains("cli.add"), "{table}");
    assert!(
        table.contains("next page: taskq tasks cli --state ready --cursor"),
        "{table}"
    );
    let table = f
        .env
        .taskq(&["tasks", QUEUE, "--state", "leased"])
        .await
        .ok()
        .stdout;
    assert!(
        table.contains("cli.hold") && table.contains("LEASE UNTIL"),
        "{table}"
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_tells_everything_of_a_task_in_each_state() {
    let f = Fixture::start().await;
    let inspect = |id: TaskId| {
        let env = &f.env;
        async move {
            env.taskq(&["inspect", &id.to_string(), "--json"])
                .await
                .ok()
                .json()
        }
    };
    let ok = inspect(f.succeeded).await;
    assert_eq!(ok["state"], "succeeded", "{ok}");
    assert_eq!(ok["task"], "cli.add", "{ok}");
    assert_eq!(ok["outcome"]["success"], 5, "{ok}");
    assert!(ok["finished_at"].is_u64(), "{ok}");

    let bad = inspect(f.failed).await;
    assert_eq!(bad["state"], "failed", "{bad}");
    assert_eq!(bad["outcome"]["failure"]["message"], "boom", "{bad}");

    let running = inspect(f.leased).await;
    assert_eq!(running["state"], "running", "{running}");
    assert_eq!(running["envelope"]["args"]["ms"], 60_000, "{running}");
    assert!(running["worker"].is_string(), "{running}");
    assert!(running["lease_deadline"].is_u64(), "{running}");

    let ready = inspect(f.ready[0]).await;
    assert_eq!(ready["state"], "pending", "{ready}");
    assert_eq!(
        ready["envelope"]["args"],
        serde_json::json!({"a": 1, "b": 1})
    );

    let scheduled = inspect(f.scheduled).await;
    assert_eq!(scheduled["state"], "scheduled", "{scheduled}");
    assert!(scheduled["due_at"].is_u64(), "{scheduled}");

    let dead = inspect(f.dead).await;
    assert_eq!(dead["dead_reason"], "unknown_task", "{dead}");

    let table = f
        .env
        .taskq(&["inspect", &f.leased.to_string()])
        .await
        .ok()
        .stdout;
    for field in [
        "state",
        "running",
        "cli.hold",
        "arguments",
        "lease until",
        "worker",
    ] {
        assert!(table.contains(field), "no `{field}` in {table}");
    }
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_prints_values_errors_and_states() {
    let f = Fixture::start().await;
    let result = |id: TaskId, json: bool| {
        let env = &f.env;
        async move {
            let id = id.to_string();
            let mut args = vec!["result", id.as_str()];
            if json {
                args.push("--json");
            }
            env.taskq(&args).await.ok()
        }
    };
    assert_eq!(result(f.succeeded, false).await.stdout, "5\n");
    let v = result(f.succeeded, true).await.json();
    assert_eq!(
        (v["state"].as_str(), v["result"].as_i64()),
        (Some("succeeded"), Some(5))
    );

    assert_eq!(
        result(f.failed, false).await.stdout,
        "failed: error: boom\n"
    );
    let v = result(f.failed, true).await.json();
    assert_eq!(v["error"]["kind"], "error");

    assert_eq!(result(f.ready[0], false).await.stdout, "pending\n");
    assert_eq!(result(f.scheduled, false).await.stdout, "scheduled\n");
    assert_eq!(result(f.leased, true).await.json()["state"], "running");

    // Waiting for a task that cannot run yet ends at the deadline, with status 2.
    let id = f.ready[1].to_string();
    let run = f.env.taskq(&["result", &id, "--wait", "300ms"]).await;
    assert!(run.fails(2).contains("within 300ms"), "{run:#?}");
    // A finished one answers at once.
    let run = f
        .env
        .taskq(&["result", &f.succeeded.to_string(), "--wait"])
        .await
        .ok();
    assert_eq!(run.stdout, "5\n");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_lists_the_live_worker_and_what_it_runs() {
    let f = Fixture::start().await;
    let workers = f.env.taskq(&["workers", "--json"]).await.ok().json();
    let list = workers.as_array().unwrap();
    assert_eq!(list.len(), 1, "{workers}");
    let w = &list[0];
    assert_eq!(w["queues"], serde_json::json!([QUEUE]));
    assert_eq!(w["concurrency"], 1);
    assert_eq!(w["pid"], std::process::id());
    assert_eq!(w["running"][0]["id"], f.leased.to_string(), "{w}");
    assert!(w["processed"].as_u64().unwrap() >= 3, "{w}");
    assert!(w["failed"].as_u64().unwrap() >= 2, "{w}");

    let table = f.env.taskq(&["workers", "--tasks"]).await.ok().stdout;
    assert!(table.contains(w["id"].as_str().unwrap()), "{table}");
    assert!(table.contains("1/1"), "{table}");
    assert!(table.contains(&f.leased.to_string()), "{table}");

    // A warm shutdown removes it at once.
    f.worker.shutdown().await.unwrap();
    let workers = f.env.taskq(&["workers", "--json"]).await.ok().json();
    assert_eq!(workers, serde_json::json!([]));
    let table = f.env.taskq(&["workers"]).await.ok().stdout;
    assert_eq!(table, "no live workers\n");
}
