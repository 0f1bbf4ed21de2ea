#[taskq::task]
const fn answer() -> u32 {
    42
}

fn main() {
    // The function is re-emitted unchanged, so its callers have no errors of their own.
    let _ = answer();
}
