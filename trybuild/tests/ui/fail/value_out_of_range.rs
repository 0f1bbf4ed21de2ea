#[taskq::task(priority = 10)]
async fn ping() -> u32 {
    1
}

fn main() {}
