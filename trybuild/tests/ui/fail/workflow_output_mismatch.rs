// The declared output is not what the canvas produces: rustc reports it in the function.

use taskq::canvas::Canvas;

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow]
fn pipeline(n: u32) -> impl Canvas<Output = String> {
    fetch::new(n)
}

fn main() {}
