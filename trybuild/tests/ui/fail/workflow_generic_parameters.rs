use taskq::canvas::Canvas;

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow]
fn pipeline<N: Into<u32>>(n: N) -> impl Canvas<Output = u32> {
    fetch::new(n.into())
}

fn main() {}
