// An `Rc` held across an `.await`: the error is at the function's name, with rustc's note at
// the `.await`.

use std::rc::Rc;

#[taskq::task]
async fn count(n: u32) -> u32 {
    let shared = Rc::new(n);
    std::future::ready(()).await;
    *shared
}

fn main() {}
