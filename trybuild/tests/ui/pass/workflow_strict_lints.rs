//! Workflows and partial calls are clean under strict lints: no warning, no missing docs.

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

/// Tasks and workflows in a public module.
pub mod etl {
    use taskq::canvas::{chord, group, Canvas, Chain, Partial};
    use taskq::Call;

    /// Fetches.
    #[taskq::task]
    pub async fn fetch(n: u32) -> Vec<u32> {
        (1..=n).collect()
    }

    /// Scales.
    #[taskq::task(queue = "math")]
    pub fn scale(values: Vec<u32>, by: u32) -> Result<Vec<u32>, String> {
        Ok(values.iter().map(|v| v * by).collect())
    }

    /// Sums.
    #[taskq::task]
    pub async fn sum(values: Vec<u32>) -> u32 {
        values.iter().sum()
    }

    /// Never used as a step: its `partial` is unused.
    #[taskq::task]
    pub(crate) async fn unused(values: Vec<u32>, extra: u8) -> usize {
        values.len() + usize::from(extra)
    }

    /// A public workflow.
    #[taskq::workflow(name = "etl.pipeline")]
    pub fn pipeline(n: u32, factors: Vec<u32>) -> impl Canvas<Output = u32> {
        let members: Vec<_> = factors
            .into_iter()
            .map(|by| fetch::new(n).then(scale::partial(by)).then(sum::partial()))
            .collect();
        chord(group(members), sum::partial())
    }

    /// A crate-private workflow, never started by its typed call.
    #[taskq::workflow]
    pub(crate) fn private(n: u32) -> Chain<Call<fetch>, Partial<sum>> {
        fetch::new(n).then(sum::partial())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
    let handle = etl::pipeline::new(2, vec![1, 2]).delay_on(&client).await?;
    assert_eq!(handle.get().await?, 9);
    let _ = etl::private(1);
    let _ = worker.shutdown().await?;
    Ok(())
}
