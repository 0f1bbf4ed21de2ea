#[taskq::task(cron = "0 9 * * MON-FRI", tz = "Europe/Atlantis")]
async fn standup() {}

fn main() {}
