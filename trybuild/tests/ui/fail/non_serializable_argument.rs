// The argument can be read back but not written: rustc's error is at the argument's type.

#[derive(serde::Deserialize)]
pub struct Invoice {
    pub cents: u64,
}

#[taskq::task]
async fn bill(customer: u64, invoice: Invoice) -> u64 {
    customer + invoice.cents
}

fn main() {}
