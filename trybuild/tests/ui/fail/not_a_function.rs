// `#[task]` on a struct: the error is at `struct`.

#[taskq::task]
pub struct SendEmail {
    pub to: String,
}

fn main() {}
