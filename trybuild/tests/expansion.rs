//! Every shape of task, compiled as an ordinary test target, so that `cargo clippy --all-targets`
//! lints the expansion the way it lints a user's crate (trybuild's cases are not linted).

#![warn(clippy::pedantic, clippy::nursery)]
// These fire on the functions as written, with or without `#[task]`; everything else would be
// the expansion's fault.
#![allow(
    clippy::missing_errors_doc,
    clippy::needless_pass_by_value,
    clippy::unused_async,
    clippy::many_single_char_names,
    clippy::too_many_arguments
)]

use taskq::{Context, Task};

/// In place, with options.
#[taskq::task(retries = 3, timeout = "30s", queue = "math", priority = 7)]
pub async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// With a context, failing.
#[taskq::task(max_attempts = 2, backoff = "1s", backoff_max = "1m", jitter = false)]
pub async fn checked(ctx: Context, a: u32, b: u32) -> Result<u32, String> {
    let _ = ctx.attempt();
    a.checked_sub(b).ok_or_else(|| "underflow".to_owned())
}

/// Blocking, without output.
#[taskq::task(ignore_result)]
pub fn log(line: String) {
    let _ = line;
}

/// Blocking, with a context and every option.
#[taskq::task(
    name = "expansion.everything",
    queue = "q",
    priority = 1,
    retries = 1,
    backoff = "10ms",
    backoff_max = "1s",
    jitter = true,
    timeout = "1m",
    result_ttl = "1h"
)]
pub fn everything(
    a: u8,
    b: u16,
    c: u32,
    ctx: Context,
    d: u64,
    e: String,
    f: Vec<u8>,
    g: Option<i8>,
    h: (bool, char),
) -> std::io::Result<usize> {
    let _ = (a, b, c, ctx, d, f, g, h);
    Ok(e.len())
}

/// No arguments.
#[taskq::task]
pub async fn ping() {}

#[tokio::test]
async fn tasks_run_in_place_and_through_run() {
    assert_eq!(add(2, 3).await, 5);
    ping().await;
    log("x".to_owned());
    let ctx = Context::detached("expansion");
    assert_eq!(checked::new(3, 1).task().map(|t| t.a), Some(3));
    assert_eq!(
        checked { a: 1, b: 2 }.run(ctx.clone()).await,
        Err("underflow".to_owned())
    );
    let out = everything {
        a: 1,
        b: 2,
        c: 3,
        d: 4,
        e: "five".to_owned(),
        f: vec![],
        g: None,
        h: (true, 'x'),
    }
    .run(ctx)
    .await;
    assert_eq!(out.ok(), Some(4));
    assert_eq!(<everything as Task>::NAME, "expansion.everything");
    assert_eq!(<log as Task>::OPTIONS.result_ttl, None);
}
