//! Groups: a `Vec` of one canvas type gives a `Vec`; a tuple of different ones gives a tuple.

use taskq::canvas::group;

#[taskq::task]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn sum(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

#[taskq::task]
async fn name(n: u32) -> String {
    format!("#{n}")
}

#[taskq::task]
async fn count(values: Vec<u32>) -> usize {
    values.len()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;

    // A Vec of chains.
    let members: Vec<_> = (1..=3)
        .map(|n| fetch::new(n).then(sum::partial()))
        .collect();
    let out: Vec<u32> = group(members).delay_on(&client).await?.get().await?;
    assert_eq!(out, [1, 3, 6]);

    // A tuple of different canvases.
    let out: (u32, String) = group((sum::new(vec![1, 2]), name::new(7)))
        .delay_on(&client)
        .await?
        .get()
        .await?;
    assert_eq!(out, (3, "#7".to_owned()));

    // A group after a step: every member takes its output.
    let chain = fetch::new(4).then(group((sum::partial(), count::partial())));
    let out: (u32, usize) = chain.delay_on(&client).await?.get().await?;
    assert_eq!(out, (10, 4));

    worker.shutdown().await?;
    Ok(())
}
