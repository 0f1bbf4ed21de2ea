//! The `taskq` binary on a SQLite file that this test process writes: a second process on the
//! same file sees the queue's counts, runs a purge and a requeue, and the test process sees
//! their effects.

use std::sync::Arc;

use taskq::{Client, Envelope, Payload};
use taskq_sqlite::testing::TempDb;

const QUEUE: &str = "cli-sqlite";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reads_and_steers_a_sqlite_file() {
    let db = TempDb::new().unwrap();
    let backend = Arc::new(db.open().await.unwrap());
    let client = Client::new(backend.clone());
    let batch: Vec<Envelope> = (0..3)
        .map(|i| Envelope::new("cli.task", QUEUE, Payload::encode(&i).unwrap()))
        .collect();
    client.backend().publish(batch).await.unwrap();
    let url = db.url();

    let rows = crate::harness::taskq(&["--url", &url, "queues", "--json", QUEUE])
        .await
        .ok()
        .json();
    assert_eq!(rows[0]["queue"], QUEUE, "{rows}");
    assert_eq!(rows[0]["ready"], 3, "{rows}");

    crate::harness::taskq(&["--url", &url, "pause", QUEUE])
        .await
        .ok();
    assert!(client.backend().queue_stats(QUEUE).await.unwrap().paused);
    crate::harness::taskq(&["--url", &url, "resume", QUEUE])
        .await
        .ok();
    assert!(!client.backend().queue_stats(QUEUE).await.unwrap().paused);

    crate::harness::taskq(&["--url", &url, "purge", QUEUE, "--yes"])
        .await
        .ok();
    let stats = client.backend().queue_stats(QUEUE).await.unwrap();
    assert_eq!(stats.ready, 0, "{stats:?}");
}
