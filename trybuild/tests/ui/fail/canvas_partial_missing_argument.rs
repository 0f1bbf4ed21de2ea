// `partial` takes every argument but the first: `scale` needs `by`.

#[taskq::task]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn scale(values: Vec<u32>, by: u32) -> Vec<u32> {
    values.iter().map(|v| v * by).collect()
}

fn main() {
    let _chain = fetch::new(3).then(scale::partial());
}
