use taskq::canvas::Canvas;

#[taskq::task]
async fn shout(text: String) -> String {
    text.to_uppercase()
}

#[taskq::workflow]
fn pipeline(text: impl Into<String>) -> impl Canvas<Output = String> {
    shout::new(text.into())
}

fn main() {}
