use taskq::canvas::Canvas;

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow]
fn pipeline(n: u32, r#task: String) -> impl Canvas<Output = u32> {
    let _ = r#task;
    fetch::new(n)
}

fn main() {}
