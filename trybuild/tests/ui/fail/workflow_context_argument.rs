use taskq::canvas::Canvas;
use taskq::Context;

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow]
fn pipeline(ctx: Context, n: u32) -> impl Canvas<Output = u32> {
    let _ = ctx;
    fetch::new(n)
}

fn main() {}
