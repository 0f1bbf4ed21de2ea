#[taskq::task(rate_limit = "10/s", rate_limit_key = "customer")]
async fn sync(customer_id: u64) {
    let _ = customer_id;
}

fn main() {}
