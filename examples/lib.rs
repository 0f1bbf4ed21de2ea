//! Tasks shared by the example binaries: the `worker` example serves them, producers send them.

#![warn(missing_docs)]

/// Tasks the example worker serves.
pub mod tasks {
    /// Adds two numbers.
    #[taskq::task(name = "examples.add", retries = 3, timeout = "30s")]
    pub async fn add(a: i64, b: i64) -> i64 {
        a + b
    }

    /// Counts the words of a text.
    #[taskq::task(name = "examples.word_count")]
    pub fn word_count(text: String) -> usize {
        text.split_whitespace().count()
    }
}

// Links taskq-redis into every example, so that `TASKQ_URL=redis://...` selects Redis with no
// other change (a backend crate that is never named is dropped by the linker, and its
// `redis://` registration with it).
use taskq_redis as _;
