//! An `async fn` without a `Context`: `f(..)` and `f::new(..)` both make a `Call`, which runs the
//! function in place when awaited.

use taskq::Task;

#[taskq::task]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

// Calling itself goes through `Call`, which boxes the future, so recursion needs no `Box::pin`.
#[taskq::task]
async fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1).await + fib(n - 2).await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(add(2, 3).await, 5);
    assert_eq!(add::new(2, 3).await, 5);
    assert_eq!(fib(10).await, 55);

    let call: taskq::Call<add> = add(2, 3);
    let args = call.task().expect("not yet awaited");
    assert_eq!((args.a, args.b), (2, 3));

    let out = add { a: 4, b: 5 }
        .run(taskq::Context::detached("add"))
        .await;
    assert_eq!(out, Ok(9));

    assert!(
        <add as Task>::NAME.ends_with("::add"),
        "{}",
        <add as Task>::NAME
    );
    assert_eq!(<add as Task>::OPTIONS, taskq::TaskOptions::DEFAULT);

    // Registered at link time, at the function's own line.
    let registry = taskq::Registry::global().expect("no two tasks share a name");
    let entry = registry
        .get(<add as Task>::NAME)
        .expect("`add` is registered");
    assert!(entry.file.ends_with("async_fn.rs"), "{}", entry.file);
    assert_eq!(entry.line, 7);
    assert!(registry.get(<fib as Task>::NAME).is_some());
}
