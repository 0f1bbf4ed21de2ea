#[taskq::hook(before_start)]
async fn two(ev: taskq::hooks::HookEvent, extra: u32) {
    let _ = (ev, extra);
}

#[taskq::hook(before_start)]
async fn none() {}

fn main() {}
