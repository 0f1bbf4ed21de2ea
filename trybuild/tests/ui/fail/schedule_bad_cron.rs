#[taskq::task(cron = "0 25 * * *")]
async fn nightly() {}

#[taskq::task(cron = "* * *")]
async fn too_few_fields() {}

fn main() {}
