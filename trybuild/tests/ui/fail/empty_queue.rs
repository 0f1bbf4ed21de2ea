#[taskq::task(queue = "")]
async fn ping() -> u32 {
    1
}

fn main() {}
