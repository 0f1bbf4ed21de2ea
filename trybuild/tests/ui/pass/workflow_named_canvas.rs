//! A workflow returning a canvas type by name: that type is its `Canvas`.

use taskq::canvas::{Chain, Group, Partial, Workflow};
use taskq::Call;

#[taskq::task]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn sum(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

#[taskq::task]
async fn total(sums: Vec<u32>) -> u32 {
    sums.iter().sum()
}

/// A chain by name.
#[taskq::workflow]
fn summed(n: u32) -> Chain<Call<fetch>, Partial<sum>> {
    fetch::new(n).then(sum::partial())
}

/// A chord by name.
#[taskq::workflow(name = "sums")]
fn sums(ns: Vec<u32>) -> Chain<Group<Vec<Chain<Call<fetch>, Partial<sum>>>>, Partial<total>> {
    let members = ns.into_iter().map(summed).collect();
    taskq::canvas::chord(taskq::canvas::group(members), total::partial())
}

/// A single task call.
#[taskq::workflow]
fn one(n: u32) -> Call<sum> {
    sum::new(vec![n, n])
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;

    let _chain: Chain<Call<fetch>, Partial<sum>> = summed::new(3).build();
    assert_eq!(summed::new(3).delay_on(&client).await?.get().await?, 6);
    assert_eq!(
        sums::new(vec![1, 2, 3])
            .delay_on(&client)
            .await?
            .get()
            .await?,
        10
    );
    assert_eq!(one::new(4).delay_on(&client).await?.get().await?, 8);
    assert_eq!(<sums as Workflow>::NAME, "sums");

    worker.shutdown().await?;
    Ok(())
}
