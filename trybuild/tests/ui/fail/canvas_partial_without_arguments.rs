// A task without arguments cannot take the previous step's output: it has no `partial`.

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::task]
async fn ping() -> u32 {
    1
}

fn main() {
    let _chain = fetch::new(3).then(ping::partial());
}
