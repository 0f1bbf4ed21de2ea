pub struct Mailer;

impl Mailer {
    #[taskq::task]
    pub async fn send(&self, to: String) -> String {
        to
    }
}

fn main() {}
