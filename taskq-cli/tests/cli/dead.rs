//! `taskq dead`: list, requeue and purge dead letters, 2,000 at a time through the progress
//! path (stderr is not a terminal here, so the bar stays hidden).

use crate::fixture::{self, Fixture, QUEUE};
use crate::harness::{eventually, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lists_by_reason() {
    let f = Fixture::start().await;
    let run = f.env.taskq(&["dead", QUEUE, "--json"]).await.ok();
    let letters = run.json();
    // Oldest first: the failed task (its one attempt used up), then the unknown one.
    assert_eq!(letters.as_array().unwrap().len(), 2, "{letters}");
    assert_eq!(letters[0]["id"], f.failed.to_string());
    assert_eq!(letters[1]["id"], f.dead.to_string());

    let unknown = f
        .env
        .taskq(&["dead", QUEUE, "--reason", "unknown_task", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(unknown.as_array().unwrap().len(), 1, "{unknown}");
    assert_eq!(unknown[0]["id"], f.dead.to_string());
    assert_eq!(unknown[0]["reason"], "unknown_task");
    assert_eq!(unknown[0]["envelope"]["task"], "cli.nope");
    let exhausted = f
        .env
        .taskq(&[
            "dead",
            QUEUE,
            "--reason",
            "attempts_exhausted",
            "--limit",
            "5",
            "--json",
        ])
        .await
        .ok()
        .json();
    assert_eq!(exhausted[0]["id"], f.failed.to_string(), "{exhausted}");
    assert_eq!(exhausted[0]["error"], "boom", "{exhausted}");

    let table = f.env.taskq(&["dead", QUEUE]).await.ok().stdout;
    assert!(table.contains(&f.dead.to_string()), "{table}");
    assert!(
        table.contains("unknown_task") && table.contains("cli.nope"),
        "{table}"
    );
    let empty = f
        .env
        .taskq(&["dead", QUEUE, "--reason", "malformed_message"])
        .await
        .ok()
        .stdout;
    assert_eq!(empty, format!("no dead letters in queue `{QUEUE}`\n"));
    f.stop().await;
}

/// Sends `n` messages no worker knows to `queue` and lets a worker dead-letter them all.
async fn bury(env: &Env, queue: &str, n: usize) {
    let batch: Vec<_> = (0..n).map(|_| fixture::unknown(queue)).collect();
    env.client.send_envelopes(batch).await.unwrap();
    let worker = env.busy_worker(&[queue]).await;
    eventually("all dead-lettered", || async {
        env.client.backend().queue_stats(queue).await.unwrap().dead == n
    })
    .await;
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeue_and_purge_2000_dead_letters() {
    let env = Env::start().await;
    let queue = "bulk";
    bury(&env, queue, 2_000).await;

    // Nothing of another reason to requeue.
    let run = env
        .taskq(&["dead", "requeue", queue, "--reason", "attempts_exhausted"])
        .await
        .ok();
    assert_eq!(
        run.stdout,
        format!("requeued 0 dead letters of queue `{queue}`\n")
    );

    // Some by id, then a limited number, then the rest.
    let first = env.client.backend().dead_letters(queue, 2).await.unwrap();
    let (a, b) = (first[0].id.to_string(), first[1].id.to_string());
    let run = env
        .taskq(&["dead", "requeue", queue, "--id", &a, "--id", &b, "--json"])
        .await
        .ok();
    assert_eq!(
        run.json(),
        serde_json::json!({"queue": queue, "requeued": 2})
    );
    let run = env
        .taskq(&["dead", "requeue", queue, "--limit", "1500", "--json"])
        .await
        .ok();
    assert_eq!(run.json()["requeued"], 1_500);
    let run = env.taskq(&["dead", "requeue", queue]).await.ok();
    assert_eq!(
        run.stdout,
        format!("requeued 498 dead letters of queue `{queue}`\n")
    );
    assert!(
        run.stderr.is_empty(),
        "the bar is hidden off a terminal: {run:#?}"
    );
    let stats = env.client.backend().queue_stats(queue).await.unwrap();
    assert_eq!((stats.ready, stats.dead), (2_000, 0));

    // Dead again, then purged by reason without asking.
    let worker = env.busy_worker(&[queue]).await;
    eventually("all dead again", || async {
        env.client.backend().queue_stats(queue).await.unwrap().dead == 2_000
    })
    .await;
    worker.shutdown().await.unwrap();
    let run = env.taskq(&["dead", "purge", queue]).await;
    assert!(run.fails(2).contains("pass `--yes`"));
    let run = env
        .taskq(&[
            "dead",
            "purge",
            queue,
            "--reason",
            "unknown_task",
            "--yes",
            "--json",
        ])
        .await
        .ok();
    assert_eq!(
        run.json(),
        serde_json::json!({"queue": queue, "purged": 2_000})
    );
    assert!(run.stderr.is_empty(), "{run:#?}");
    let stats = env.client.backend().queue_stats(queue).await.unwrap();
    assert_eq!((stats.ready, stats.dead), (0, 0));
    let run = env.taskq(&["dead", "purge", queue, "-y"]).await.ok();
    assert_eq!(
        run.stdout,
        format!("purged 0 dead letters of queue `{queue}`\n")
    );
}
