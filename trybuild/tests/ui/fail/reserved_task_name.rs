#[taskq::task]
async fn retry(task: String, attempts: u32) -> u32 {
    let _ = task;
    attempts
}

fn main() {}
