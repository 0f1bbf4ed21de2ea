// A mismatch after the second step: `.then` on a chain checks nothing, so rustc reports it where
// the chain is used as a canvas, here `.delay()`.

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::task]
async fn double(n: u32) -> u32 {
    n * 2
}

#[taskq::task]
async fn shout(text: String) -> String {
    text.to_uppercase()
}

fn main() {
    let chain = fetch::new(1).then(double::partial()).then(shout::partial());
    let _ = chain.delay();
}
