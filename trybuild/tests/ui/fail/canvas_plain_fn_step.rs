// A plain function is not a step: only a `#[task]` can run in a workflow.

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

fn double(n: u32) -> u32 {
    n * 2
}

fn main() {
    let _chain = fetch::new(1).then(double);
}
