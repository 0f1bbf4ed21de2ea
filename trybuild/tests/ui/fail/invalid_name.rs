#[taskq::task(name = "send email")]
async fn send_email(to: String) -> String {
    to
}

fn main() {}
