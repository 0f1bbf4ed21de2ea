// A step of a chain must be a task call, a partial call, a chain or a group; `42` is none.

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

fn main() {
    let _chain = fetch::new(1).then(42);
}
