#[taskq::task(concurrency = 0)]
async fn rebuild(site: u32) {
    let _ = site;
}

fn main() {}
