//! `crate = "..."` names the `taskq` crate when it is renamed or re-exported.

extern crate taskq as renamed;

use ::taskq as tq;

mod reexport {
    pub use ::taskq as inner;
}

#[tq::task(crate = "tq", retries = 1)]
async fn by_use(a: u32) -> u32 {
    a + 1
}

#[renamed::task(crate = "::renamed")]
fn by_extern_crate(a: u32) -> u32 {
    a + 2
}

#[reexport::inner::task(crate = "crate::reexport::inner", queue = "q")]
async fn by_reexport(ctx: reexport::inner::Context, a: u32) -> u32 {
    let _ = ctx;
    a + 3
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    use tq::Task;
    assert_eq!(by_use(1).await, 2);
    assert_eq!(<by_use as Task>::OPTIONS.max_attempts, 2);
    assert_eq!(by_extern_crate(1), 3);
    let ctx = tq::Context::detached("by_reexport");
    assert_eq!(by_reexport(ctx, 1).await, 4);
    assert_eq!(<by_reexport as Task>::OPTIONS.queue, "q");
    let _ = (by_extern_crate::new(1), by_reexport::new(1));
}
