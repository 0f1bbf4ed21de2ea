use taskq::canvas::Canvas;

#[taskq::task]
async fn shout(text: String) -> String {
    text.to_uppercase()
}

#[taskq::workflow]
fn pipeline(text: &str) -> impl Canvas<Output = String> {
    shout::new(text.to_owned())
}

fn main() {}
