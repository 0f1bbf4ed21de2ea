#[taskq::workflow]
struct Pipeline {
    n: u32,
}

fn main() {}
