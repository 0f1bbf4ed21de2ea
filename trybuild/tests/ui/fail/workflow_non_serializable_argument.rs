// A workflow's arguments are sent to start it by name, so they must be serializable.

use taskq::canvas::Canvas;

pub struct Source {
    pub n: u32,
}

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow]
fn pipeline(source: Source) -> impl Canvas<Output = u32> {
    fetch::new(source.n)
}

fn main() {}
