#[taskq::task]
fn resize(path: String, mut options: Vec<u32>) -> String {
    options.push(1);
    path
}

fn main() {}
