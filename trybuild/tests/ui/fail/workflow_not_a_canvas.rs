// A workflow function returns the canvas it builds; `u32` is not one.

#[taskq::workflow]
fn answer(n: u32) -> u32 {
    n
}

fn main() {}
