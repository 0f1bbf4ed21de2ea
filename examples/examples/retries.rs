//! Retries and timeouts: a flaky task that succeeds on its third attempt, with exponential
//! backoff between attempts, and a task that runs past its timeout and fails for good.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails twice, then succeeds. `retries = 3` allows three retries after the first attempt.
#[taskq::task(retries = 3, backoff = "100ms", jitter = false)]
async fn flaky(ctx: taskq::Context) -> Result<String, String> {
    let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    println!(
        "  flaky: attempt {} of {}",
        ctx.attempt(),
        ctx.max_attempts()
    );
    if n < 3 {
        return Err(format!("transient failure #{n}"));
    }
    Ok(format!("succeeded on attempt {}", ctx.attempt()))
}

/// Takes far longer than its 200 ms timeout.
#[taskq::task(timeout = "200ms")]
async fn too_slow() -> u32 {
    tokio::time::sleep(Duration::from_secs(60)).await;
    0
}

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;

    let started = Instant::now();
    let result = flaky::new().delay_on(&client).await?.get().await?;
    println!(
        "flaky: {result} after {:?} (backoff 100 ms, then 200 ms)",
        started.elapsed()
    );

    match too_slow::new().delay_on(&client).await?.get().await {
        Ok(v) => println!("too_slow: unexpectedly finished with {v}"),
        Err(err) => println!("too_slow: {err}"),
    }

    let dead = client
        .backend()
        .dead_letters(taskq::DEFAULT_QUEUE, 10)
        .await?;
    for d in dead {
        println!("dead letter: {} ({}): {}", d.id, d.reason, d.message);
    }
    worker.shutdown().await?;
    Ok(())
}
