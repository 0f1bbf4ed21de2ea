// Every mistake is reported in the same build, each at its own token; the function still exists,
// so the call in `main` adds no error.

use taskq::canvas::Canvas;

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow(name = "", queue = "etl")]
async fn pipeline(n: &u32, _: u32) -> impl Canvas<Output = u32> {
    fetch::new(*n)
}

fn main() {
    let _ = pipeline(&1, 2);
}
