#[taskq::hook(after_success)]
fn on_success(ev: taskq::hooks::HookEvent) {
    let _ = ev;
}

fn main() {}
