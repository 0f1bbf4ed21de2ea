// A named canvas type cannot hide a part behind `impl Trait`: the whole type is named, or none.

use taskq::canvas::{Canvas, Chain, Partial};

#[taskq::task]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn sum(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

#[taskq::workflow]
fn pipeline(n: u32) -> Chain<impl Canvas<Output = Vec<u32>>, Partial<sum>> {
    fetch::new(n).then(sum::partial())
}

fn main() {}
