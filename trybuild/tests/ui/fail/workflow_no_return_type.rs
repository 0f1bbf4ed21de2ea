#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::workflow]
fn pipeline(n: u32) {
    let _ = fetch::new(n);
}

fn main() {}
