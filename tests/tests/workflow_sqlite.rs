//! Workflows on a SQLite file (in a fresh directory), with the same scenarios as on the
//! in-memory backend and Redis.

mod common;

use std::sync::Arc;

use taskq::{Client, Worker, WorkerHandle};
use taskq_sqlite::testing::TempDb;

async fn setup() -> (TempDb, Client, WorkerHandle) {
    let db = TempDb::new().expect("a temporary directory");
    let backend = db.open().await.expect("open the file");
    let client = Client::new(Arc::new(backend));
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["flows"])
        .concurrency(32)
        .spawn()
        .unwrap();
    (db, client, worker)
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_db, client, worker) = setup().await;
            common::$name(&client).await;
            worker.shutdown().await.unwrap();
        }
    )*};
}

scenarios!(
    chain_of_100_steps,
    chord_of_1000_fires_once,
    groups_give_vecs_and_tuples,
    dag_fans_out_and_in,
    failure_mid_chain_stops_the_rest,
    retries_stay_inside_a_step,
    start_a_workflow_by_name_with_json,
    revoking_a_workflow_stops_steps_not_started,
);
