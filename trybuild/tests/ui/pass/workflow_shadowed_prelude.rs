//! The code `#[workflow]` and `partial` generate names everything by absolute path, so the
//! user's own `Result`, `Option`, `Box`, `Vec`, `Send` change nothing.

#![allow(dead_code)]

struct Result;
struct Option;
struct Box;
struct String;
struct Vec;
struct Ok;
struct Err;
struct Some;
struct None;
trait Send {}
trait Sync {}
trait FnOnce {}
trait Canvas {}
trait Workflow {}
mod core {}
mod std {}
mod serde {}
mod serde_json {}
mod inventory {}

#[taskq::task]
async fn fetch(n: u32) -> ::std::vec::Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn scale(values: ::std::vec::Vec<u32>, by: u32) -> u32 {
    values.iter().map(|v| v * by).sum()
}

#[taskq::task]
async fn sum(values: ::std::vec::Vec<u32>) -> u32 {
    values.iter().sum()
}

#[taskq::workflow]
fn opaque(n: u32, by: u32) -> impl taskq::canvas::Canvas<Output = u32> {
    fetch::new(n).then(scale::partial(by))
}

#[taskq::workflow]
fn named(n: u32) -> taskq::canvas::Chain<taskq::Call<fetch>, taskq::canvas::Partial<sum>> {
    fetch::new(n).then(sum::partial())
}

fn main() {
    let _ = (opaque::new(1, 2), named::new(3), opaque(1, 2), named(3));
}
