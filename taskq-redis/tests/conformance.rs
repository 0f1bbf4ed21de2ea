//! The core's backend conformance suite, against a private `redis-server`.

use std::sync::Arc;

use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_on_real_redis() {
    let server = RedisServer::start();
    let backend = RedisBackend::connect(&server.url())
        .await
        .expect("connect to the private redis-server");
    if let Err(failures) = taskq::conformance::run(Arc::new(backend)).await {
        panic!("{failures}");
    }
}
