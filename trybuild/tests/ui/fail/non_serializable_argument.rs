// Readable but not writable: rustc reports it for the derive and for `partial`, at the argument.

#[derive(serde::Deserialize)]
pub struct Invoice {
    pub cents: u64,
}

#[taskq::task]
async fn bill(customer: u64, invoice: Invoice) -> u64 {
    customer + invoice.cents
}

fn main() {}
