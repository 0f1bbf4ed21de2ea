// `impl Trait` of a trait that is not `Canvas`.

#[taskq::workflow]
fn numbers(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

fn main() {}
