#[taskq::task(cron = "0 * * * *", overlap = "queue", catchup = "some")]
async fn hourly() {}

#[taskq::task(tz = "Europe/Berlin")]
async fn no_cron() {}

fn main() {}
