// The workflow's result type must be named: `impl Canvas<Output = u32>`.

use taskq::canvas::Canvas;

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow]
fn pipeline(n: u32) -> impl Canvas {
    fetch::new(n)
}

fn main() {}
