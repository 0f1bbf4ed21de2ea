use taskq::canvas::Canvas;

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow(name)]
fn pipeline(n: u32) -> impl Canvas<Output = u32> {
    fetch::new(n)
}

fn main() {}
