#[taskq::task(circuit_breaker(failures = 5, within = "a minute", cooldown = "30s"))]
async fn charge(amount: u64) -> u64 {
    amount
}

fn main() {}
