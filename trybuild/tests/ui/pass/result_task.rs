//! A `Result`, under any path or alias, splits into the task's output and error.

use std::fmt;

use taskq::{Context, Task};

#[derive(Debug, PartialEq)]
pub struct MyError(String);

impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "my error: {}", self.0)
    }
}

type Result<T> = std::result::Result<T, MyError>;

#[taskq::task]
async fn parse(text: String) -> std::result::Result<u32, String> {
    text.parse().map_err(|e| format!("{e}"))
}

#[taskq::task]
async fn alias(n: u32) -> Result<u32> {
    if n == 0 {
        Err(MyError("zero".into()))
    } else {
        Ok(n)
    }
}

#[taskq::task]
fn read(path: String) -> std::io::Result<usize> {
    Ok(path.len())
}

#[taskq::task]
async fn formatted() -> fmt::Result {
    Ok(())
}

fn splits<T: Task<Output = O, Error = E>, O, E>() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    splits::<parse, u32, String>();
    splits::<alias, u32, MyError>();
    splits::<read, usize, std::io::Error>();
    splits::<formatted, (), fmt::Error>();

    // In place, the function returns what it always did.
    assert_eq!(parse("7".into()).await, Ok(7));
    assert_eq!(alias(0).await, Err(MyError("zero".into())));

    let ctx = Context::detached("result");
    assert_eq!(parse { text: "8".into() }.run(ctx.clone()).await, Ok(8));
    let err = alias { n: 0 }.run(ctx.clone()).await.expect_err("fails");
    assert_eq!(err.to_string(), "my error: zero");
    assert_eq!(
        read { path: "abc".into() }.run(ctx.clone()).await.ok(),
        Some(3)
    );
    assert!(formatted {}.run(ctx).await.is_ok());
}
