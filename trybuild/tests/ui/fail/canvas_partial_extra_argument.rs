// `sum` has one argument, which the previous step gives: its `partial` takes none.

#[taskq::task]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn sum(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

fn main() {
    let _chain = fetch::new(3).then(sum::partial(10));
}
