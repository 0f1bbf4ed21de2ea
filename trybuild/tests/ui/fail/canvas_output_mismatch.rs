// `fetch` produces a `u32`; the next step's first argument is a `String`.

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::task]
async fn shout(text: String) -> String {
    text.to_uppercase()
}

fn main() {
    let _chain = fetch::new(1).then(shout::partial());
}
