// The output can be read back but not written: rustc's error is at the return type.

#[derive(serde::Deserialize)]
pub struct Receipt {
    pub cents: u64,
}

#[taskq::task]
async fn bill(cents: u64) -> Receipt {
    Receipt { cents }
}

fn main() {}
