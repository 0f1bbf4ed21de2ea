//! The expansion is clean under strict lints: no warning, no missing docs, no `unsafe` of its own.

#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms
)]
#![deny(
    unused_qualifications,
    unused_results,
    trivial_casts,
    unused_import_braces
)]
#![forbid(unsafe_code)]

/// Tasks in a public module.
pub mod jobs {
    /// Adds.
    #[taskq::task(retries = 3, timeout = "30s")]
    pub async fn add(a: i64, b: i64) -> i64 {
        a + b
    }

    /// Multiplies, on the blocking pool.
    #[taskq::task(queue = "math")]
    pub fn mul(a: i64, b: i64) -> Result<i64, String> {
        a.checked_mul(b).ok_or_else(|| "overflow".to_string())
    }

    /// Reports.
    #[taskq::task(ignore_result)]
    pub async fn report(ctx: taskq::Context, line: String) {
        let _ = (ctx, line);
    }

    /// Never called in place: its only use is by the worker, through the registry.
    #[taskq::task]
    pub(crate) async fn unused_in_place(n: u8) -> u8 {
        n
    }

    /// Sends the ones that cannot run in place.
    pub(crate) fn calls() -> (
        taskq::Call<mul>,
        taskq::Call<report>,
        taskq::Call<unused_in_place>,
    ) {
        (
            mul::new(2, 3),
            report::new("hi".into()),
            unused_in_place::new(1),
        )
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(jobs::add(2, 3).await, 5);
    assert_eq!(jobs::mul(2, 3), Ok(6));
    jobs::report(taskq::Context::detached("report"), "x".into()).await;
    let (mul, _, _) = jobs::calls();
    assert_eq!(mul.task().map(|t| (t.a, t.b)), Some((2, 3)));
}
