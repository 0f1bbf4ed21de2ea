//! The in-memory backend passes the backend conformance suite.

use std::sync::Arc;

use taskq::backend::memory::MemoryBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_passes_the_conformance_suite() {
    if let Err(failures) = taskq::conformance::run(Arc::new(MemoryBackend::new())).await {
        panic!("{failures}");
    }
}
