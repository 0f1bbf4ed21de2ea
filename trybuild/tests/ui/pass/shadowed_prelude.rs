//! The generated code names everything by absolute path, so the user's own `Result`, `Option`,
//! `Box`, `String`, `Vec`, `Ok`, `Some`, `Send`, `Future`, `Default` change nothing.

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
struct Infallible;
trait Send {}
trait Sync {}
trait Future {}
trait Default {}
trait Fn {}
trait FnOnce {}
mod core {}
mod std {}
mod serde {}
mod inventory {}

#[taskq::task]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[taskq::task(retries = 2, timeout = "1s", result_ttl = "1h")]
fn concat(a: ::std::string::String, b: ::std::string::String) -> ::std::string::String {
    a + &b
}

#[taskq::task]
async fn checked(
    a: u32,
    ctx: taskq::Context,
) -> ::core::result::Result<::std::vec::Vec<u32>, ::std::string::String> {
    let _ = ctx;
    ::core::result::Result::Ok(::std::vec![a])
}

#[taskq::task(ignore_result)]
async fn nothing() {}

#[::tokio::main(flavor = "current_thread")]
async fn main() {
    ::core::assert_eq!(add(2, 3).await, 5);
    ::core::assert_eq!(concat("a".into(), "b".into()), "ab");
    let ctx = taskq::Context::detached("checked");
    ::core::assert_eq!(
        checked(1, ctx).await,
        ::core::result::Result::Ok(::std::vec![1])
    );
    nothing().await;
    let _ = (concat::new("a".into(), "b".into()), checked::new(1));
}
