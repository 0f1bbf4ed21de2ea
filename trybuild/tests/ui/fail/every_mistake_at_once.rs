// Every mistake is reported in the same build, each at its own token; the function still exists,
// so the call in `main` adds no error.

#[taskq::task(retries = "3", timeout = "30sec", queue = "a b", colour = "red")]
async fn greet<'a>(name: &'a str, _: u32) -> String {
    format!("hello {name}")
}

fn main() {
    let _ = greet("world", 1);
}
