//! Workflows on the in-memory backend.

mod common;

use taskq::{Client, Worker, WorkerHandle};

fn setup() -> (Client, WorkerHandle) {
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["flows"])
        .concurrency(32)
        .spawn()
        .unwrap();
    (client, worker)
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (client, worker) = setup();
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
