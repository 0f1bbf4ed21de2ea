#[taskq::task(rate_limit = "100 per second")]
async fn call_api(n: u32) {
    let _ = n;
}

fn main() {}
