#[taskq::task(crate = "taskq::")]
async fn ping() -> u32 {
    1
}

fn main() {}
