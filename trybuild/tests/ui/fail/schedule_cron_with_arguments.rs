#[taskq::task(cron = "*/5 * * * *")]
async fn report(region: String) {
    let _ = region;
}

fn main() {}
