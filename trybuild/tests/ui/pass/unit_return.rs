//! A task that returns nothing has the output `()`.

use std::sync::atomic::{AtomicU32, Ordering};

use taskq::{Context, Task};

static RUNS: AtomicU32 = AtomicU32::new(0);

#[taskq::task]
async fn tick() {
    RUNS.fetch_add(1, Ordering::SeqCst);
}

#[taskq::task]
fn tick_blocking(by: u32) -> () {
    RUNS.fetch_add(by, Ordering::SeqCst);
}

fn returns_unit<T: Task<Output = (), Return = (), Error = std::convert::Infallible>>() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    returns_unit::<tick>();
    returns_unit::<tick_blocking>();
    tick().await;
    assert_eq!(tick {}.run(Context::detached("tick")).await, Ok(()));
    assert_eq!(
        tick_blocking { by: 10 }
            .run(Context::detached("tick"))
            .await,
        Ok(())
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 12);
}
