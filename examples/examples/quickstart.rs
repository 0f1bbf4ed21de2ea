use std::time::Duration;

/// Adds two numbers, on whichever worker picks it up.
#[taskq::task(retries = 3, timeout = "30s")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Fails on bad input: the error comes back to whoever awaits the result.
#[taskq::task]
async fn parse_port(text: String) -> Result<u16, std::num::ParseIntError> {
    text.parse()
}

/// A plain `fn` runs on the blocking thread pool.
#[taskq::task(queue = "cpu")]
fn checksum(data: Vec<u8>) -> u32 {
    data.iter().map(|b| u32::from(*b)).sum()
}

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    // A worker in this process, on the in-memory backend (TASKQ_URL is unset). In production
    // the worker is its own binary whose main is `taskq::worker::run()`.
    let worker = taskq::Worker::builder().spawn()?;

    let handle = add(2, 3).delay().await?; // AsyncResult<i64>
    let five: i64 = handle.get().await?;
    println!("add(2, 3) = {five}");

    let urgent = add(40, 2)
        .countdown(Duration::from_millis(100))
        .priority(9)
        .delay()
        .await?;
    println!("add(40, 2) after 100 ms = {}", urgent.get().await?);

    match parse_port("http".into()).delay().await?.get().await {
        Ok(port) => println!("port {port}"),
        Err(e) => println!("parse_port failed as expected: {e}"),
    }

    let sums = taskq::delay_many((1..=3).map(|i| checksum::new(vec![i; 10]))).await?;
    for h in sums {
        println!("checksum = {}", h.get().await?);
    }

    worker.shutdown().await?;
    Ok(())
}
