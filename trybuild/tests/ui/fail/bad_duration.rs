#[taskq::task(timeout = "30 seconds")]
async fn ping() -> u32 {
    1
}

fn main() {}
