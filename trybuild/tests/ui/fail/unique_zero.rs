#[taskq::task(unique_for = "0s")]
async fn rebuild(site: u32) {
    let _ = site;
}

fn main() {}
