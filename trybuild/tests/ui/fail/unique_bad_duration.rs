#[taskq::task(unique_for = "10 minutes")]
async fn rebuild(site: u32) {
    let _ = site;
}

fn main() {}
