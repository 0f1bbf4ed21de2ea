#[taskq::task(retry = 3)]
async fn ping() -> u32 {
    1
}

fn main() {}
