#[taskq::task]
#[taskq::task(retries = 2)]
async fn ping() -> u32 {
    1
}

fn main() {}
