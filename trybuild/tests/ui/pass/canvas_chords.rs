//! Chords: a group and a callback that gets every member's output.

use taskq::canvas::{chord, group};

#[taskq::task]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn sum(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

#[taskq::task]
async fn total(sums: Vec<u32>, bonus: u32) -> u32 {
    sums.iter().sum::<u32>() + bonus
}

#[taskq::task]
async fn describe(parts: (u32, Vec<u32>)) -> String {
    format!("{} {:?}", parts.0, parts.1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;

    let members: Vec<_> = (1..=3)
        .map(|n| fetch::new(n).then(sum::partial()))
        .collect();
    let handle = chord(group(members), total::partial(100))
        .delay_on(&client)
        .await?;
    assert_eq!(handle.get().await?, 1 + 3 + 6 + 100);

    // `group.then(callback)` is the same, and a tuple group feeds a tuple.
    let handle = group((sum::new(vec![1, 2]), fetch::new(2)))
        .then(describe::partial())
        .delay_on(&client)
        .await?;
    assert_eq!(handle.get().await?, "3 [1, 2]");

    worker.shutdown().await?;
    Ok(())
}
