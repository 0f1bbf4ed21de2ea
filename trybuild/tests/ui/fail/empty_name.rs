#[taskq::task(name = "")]
async fn ping() -> u32 {
    1
}

fn main() {}
