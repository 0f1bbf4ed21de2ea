#[taskq::task(retries = 3, max_attempts = 4)]
async fn ping() -> u32 {
    1
}

fn main() {}
