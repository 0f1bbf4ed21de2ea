#[taskq::task(concurrency_key = "site")]
async fn rebuild(site: u32) {
    let _ = site;
}

fn main() {}
