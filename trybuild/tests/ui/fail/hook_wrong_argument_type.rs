#[taskq::hook(after_failure)]
async fn on_failure(id: u32) {
    let _ = id;
}

fn main() {}
