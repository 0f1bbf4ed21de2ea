use std::borrow::Cow;

#[taskq::task]
async fn shout<'a>(text: Cow<'a, str>) -> String {
    text.to_uppercase()
}

fn main() {}
