#[taskq::task(timeout)]
async fn ping() -> u32 {
    1
}

fn main() {}
