#[taskq::task(unique_for = 600)]
async fn rebuild(site: u32) {
    let _ = site;
}

fn main() {}
