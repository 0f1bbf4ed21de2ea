//! A `Context` argument, at any position, is passed by the worker and is not a field.

use taskq::{Context, Task};

#[taskq::task]
async fn first(ctx: Context, n: u32) -> String {
    format!("{}#{}:{n}", ctx.task_name(), ctx.attempt())
}

#[taskq::task]
async fn middle(a: u32, ctx: taskq::Context, b: u32) -> u32 {
    a + b + ctx.attempt()
}

#[taskq::task(retries = 2)]
async fn last(n: u32, _ctx: Context) -> Result<u32, String> {
    Ok(n)
}

#[taskq::task]
async fn only(ctx: Context) -> bool {
    ctx.is_cancelled()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = Context::detached("first");
    // Kept as written: it takes the context.
    assert_eq!(first(ctx.clone(), 1).await, "first#1:1");
    assert_eq!(
        first { n: 2 }.run(ctx.clone()).await,
        Ok("first#1:2".to_string())
    );
    assert_eq!(middle { a: 1, b: 2 }.run(ctx.clone()).await, Ok(4));
    assert_eq!(last { n: 5 }.run(ctx.clone()).await, Ok(5));
    assert_eq!(only {}.run(ctx).await, Ok(false));

    let json = serde_json::to_string(middle::new(1, 2).task().expect("a task")).expect("json");
    assert_eq!(json, r#"{"a":1,"b":2}"#);
    assert_eq!(<last as Task>::OPTIONS.max_attempts, 3);
}
