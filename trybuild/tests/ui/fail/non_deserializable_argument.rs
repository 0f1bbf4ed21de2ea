// The argument can be written but not read back: rustc's error is at the argument's type.

#[derive(serde::Serialize)]
pub struct Invoice {
    pub cents: u64,
}

#[taskq::task]
async fn bill(customer: u64, invoice: Invoice) -> u64 {
    customer + invoice.cents
}

fn main() {}
