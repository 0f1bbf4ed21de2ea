use taskq::canvas::Canvas;

#[taskq::task]
async fn shout(text: String) -> String {
    text.to_uppercase()
}

#[taskq::workflow]
fn pipeline<'a>(text: std::borrow::Cow<'a, str>) -> impl Canvas<Output = String> {
    shout::new(text.into_owned())
}

fn main() {}
