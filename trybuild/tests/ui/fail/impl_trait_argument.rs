#[taskq::task]
async fn greet(name: impl Into<String>) -> String {
    format!("hello {}", name.into())
}

fn main() {}
