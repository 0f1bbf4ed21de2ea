#[taskq::task(circuit_breaker = 5)]
async fn charge(amount: u64) -> u64 {
    amount
}

fn main() {}
