//! Every shape of task and workflow, compiled as an ordinary test target, so that `cargo clippy --all-targets`
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

use taskq::canvas::{Canvas, Chain, Partial, Workflow};
use taskq::{Call, Context, Task};

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

/// One argument: an empty `partial`.
#[taskq::task]
pub async fn double(n: i64) -> i64 {
    n * 2
}

/// A workflow returning `impl Canvas`.
#[taskq::workflow(name = "expansion.opaque")]
#[must_use]
pub fn opaque(a: i64, b: i64, c: i64) -> impl Canvas<Output = i64> {
    add::new(a, b).then(double::partial()).then(add::partial(c))
}

/// A workflow returning a named canvas, without arguments.
#[taskq::workflow]
pub fn named() -> Chain<Call<add>, Partial<double>> {
    add::new(1, 2).then(double::partial())
}

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

#[tokio::test]
async fn workflows_build_their_canvas() {
    assert_eq!(<opaque as Workflow>::NAME, "expansion.opaque");
    assert!(<named as Workflow>::NAME.ends_with("::named"));
    let _ = opaque::new(1, 2, 3).build();
    let _ = named::new().build();
    let _ = (opaque(1, 2, 3), named());
    let _ = log::partial();
    let _ = checked::partial(3);
    let _ = everything::partial(2, 3, 4, "five".to_owned(), vec![], None, (true, 'x'));
}
