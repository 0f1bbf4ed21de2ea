//! Workflows on a real Redis server (a private `redis-server`), with the same scenarios as on
//! the in-memory backend.

mod common;

use std::sync::Arc;

use taskq::{Client, Worker, WorkerHandle};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

async fn setup() -> (RedisServer, Client, WorkerHandle) {
    let server = RedisServer::start();
    let backend = RedisBackend::connect(&server.url()).await.expect("connect");
    let client = Client::new(Arc::new(backend));
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["flows"])
        .concurrency(32)
        .spawn()
        .unwrap();
    (server, client, worker)
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_server, client, worker) = setup().await;
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
