#[taskq::task(circuit_breaker(failures = 0, within = "1m", cooldown = "30s"))]
async fn charge(amount: u64) -> u64 {
    amount
}

fn main() {}
