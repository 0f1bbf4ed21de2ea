//! The core's backend conformance suite, against a database file in a fresh directory.

use std::sync::Arc;

use taskq_sqlite::testing::TempDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_on_a_sqlite_file() {
    let db = TempDb::new().expect("a temporary directory");
    let backend = db.open().await.expect("open the database file");
    if let Err(failures) = taskq::conformance::run(Arc::new(backend)).await {
        panic!("{failures}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_with_synchronous_normal() {
    let db = TempDb::new().expect("a temporary directory");
    let url = format!("{}?synchronous=normal", db.url());
    let backend = taskq_sqlite::SqliteBackend::connect(&url)
        .await
        .expect("open the database file");
    if let Err(failures) = taskq::conformance::run(Arc::new(backend)).await {
        panic!("{failures}");
    }
}
