#[taskq::task(circuit_breaker(failures = 5, within = "1m"))]
async fn charge(amount: u64) -> u64 {
    amount
}

fn main() {}
