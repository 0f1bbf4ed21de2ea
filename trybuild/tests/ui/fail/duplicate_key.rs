#[taskq::task(queue = "emails", retries = 3, queue = "sms")]
async fn notify(user: u64) -> u64 {
    user
}

fn main() {}
