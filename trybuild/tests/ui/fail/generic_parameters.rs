#[taskq::task]
async fn store<T: serde::Serialize>(value: T) -> usize {
    let _ = value;
    0
}

fn main() {}
