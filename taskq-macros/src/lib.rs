//! The `#[task]` and `#[workflow]` attribute macros of [taskq](https://docs.rs/taskq). Use them
//! through `taskq::task` and `taskq::workflow`; this crate is an implementation detail.
//!
//! Each macro is a small compiler front end, one file per stage:
//! - `attr.rs` parses `#[task(key = value, ...)]` and `#[workflow(...)]` into typed options
//!   (`duration.rs` reads the durations),
//! - `model.rs` checks the function and describes it as a task or a workflow,
//! - `expand.rs` writes the code, or on any mistake re-emits the function with every error.
//!
//! Mistakes are collected in a `Ctxt` (`ctxt.rs`) rather than returned at the first, and each is a
//! `syn::Error` at the token to change; the macro never panics.

mod attr;
mod attr_flow;
mod attr_schedule;
mod attr_unique;
mod ctxt;
mod duration;
mod expand;
mod hook;
mod model;

use proc_macro::TokenStream;

/// Turns a function into a task: something that can run later, on a worker, again after a
/// failure, with its typed result awaited from anywhere.
///
/// ```
/// /// Adds two numbers (slowly, somewhere else).
/// #[taskq::task(retries = 3, timeout = "30s")]
/// pub async fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// // Run it right here, like the plain function it was:
/// assert_eq!(add(2, 3).await, 5);
///
/// // Or send it to a worker (here one in this process, on the in-memory backend):
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
/// let handle = add(2, 3).delay_on(&client).await?; // an `AsyncResult<i64>`
/// assert_eq!(handle.get().await?, 5);
/// worker.shutdown().await?;
///
/// // The options are constants of the task.
/// use taskq::Task;
/// assert_eq!(<add as Task>::OPTIONS.max_attempts, 4);
/// assert!(<add as Task>::NAME.ends_with("::add"));
/// # Ok(())
/// # }
/// ```
///
/// # What it generates
///
/// For `async fn add(a: i64, b: i64) -> i64`, next to the function:
///
/// - a struct named like the function, `add { pub a: i64, pub b: i64 }`, with its visibility.
///   It holds the arguments, derives `Serialize` and `Deserialize`, and implements
///   [`Task`](https://docs.rs/taskq/latest/taskq/trait.Task.html): its `NAME` (the module path
///   and the function's name, as `my_app::math::add`, unless `name = "..."`), its `OPTIONS`,
///   and `run`, which calls the function. Structs and functions live in different namespaces,
///   so both are called `add`.
/// - `add::new(a, b)`, which returns a `Call<add>`: `.delay()` it to send it to a worker, set
///   per-call options on it first (`.countdown(..)`, `.priority(..)`, ...).
/// - an entry in the task registry, made at link time, so every worker linked with this code
///   knows the task by name. No list of tasks to keep up to date. The entry also describes the
///   task as JSON Schemas
///   ([`TaskEntry::schema`](https://docs.rs/taskq/latest/taskq/registry/struct.TaskEntry.html#structfield.schema)):
///   the doc comment, the arguments as an object (each typed by its `schemars::JsonSchema`
///   with taskq's feature `schema`, otherwise any JSON), and the output.
/// - for a task with an argument (besides a `Context`), `add::partial(b)`: the task with every
///   argument but the first, which the previous step of a workflow provides, as in
///   `fetch::new(1).then(add::partial(2))`. It implements
///   [`TakesInput`](https://docs.rs/taskq/latest/taskq/canvas/trait.TakesInput.html), whose
///   `Input` is the first argument's type: a chain whose types do not fit does not compile.
///
/// An `async fn` without a `Context` argument also becomes a function that returns that
/// `Call<add>`: `add(2, 3).delay().await?` sends it, and `add(2, 3).await` runs it here as
/// before. A plain `fn`, or an `async fn` that takes a `Context`, is left exactly as written:
/// send those with `add::new(..)`. A plain `fn` runs on tokio's blocking pool, so it may block.
///
/// # The function
///
/// - Its arguments are what is sent, so they must be owned (`String`, not `&str`), implement
///   `serde`'s `Serialize` and `Deserialize`, and be plain names (`mut x` is fine). `task` and
///   `options` are reserved: a REST API sends the task's name and the submit options beside
///   the arguments, under those keys.
/// - One argument, at any position, may be a [`taskq::Context`](https://docs.rs/taskq/latest/taskq/struct.Context.html):
///   the worker passes it, it is not part of the message.
/// - It returns a value that is `Serialize + Deserialize + Send`, nothing, or a `Result` (by any
///   path or alias: `anyhow::Result<T>`, `io::Result<T>`) whose error is `Display + Send`. An
///   `Err` is a failure that is retried while attempts remain, and is handed to
///   `AsyncResult::get` as `Error::TaskFailed` with the error's message.
/// - It cannot be `const`, `unsafe`, `extern`, generic, take `self`, or borrow.
/// - Its future must be `Send`: a worker runs it on a multi-threaded runtime.
///
/// Attribute macros that rewrite the body, such as `#[tracing::instrument]`, go above
/// `#[task]`, so that the body the task runs is already rewritten.
///
/// # Options
///
/// | key | value | default | meaning |
/// |---|---|---|---|
/// | `name` | string | `"<module path>::<fn name>"` | the name it is registered and sent under; ASCII letters, digits, `_ . : -`. Set it to keep the name stable when the function moves. |
/// | `queue` | string | `"default"` | the queue it is sent to; same characters as `name` |
/// | `priority` | `0` to `9` | `5` | higher runs first |
/// | `retries` | `0` to `999` | `0` | retries after the first attempt (Celery's `max_retries`) |
/// | `max_attempts` | `1` to `1000` | `1` | attempts in all, the first included; instead of `retries` |
/// | `backoff` | duration | `"1s"` | the delay before the first retry, doubled at each retry |
/// | `backoff_max` | duration | `"10m"` | the longest delay between attempts |
/// | `jitter` | `true` or `false` | `true` | pick each delay at random between zero and the exponential one |
/// | `timeout` | duration | none | how long one attempt may run |
/// | `result_ttl` | duration | `"1d"` | how long the result is kept |
/// | `ignore_result` | flag, or `true` or `false` | `false` | keep no result; `get()` then fails with `Error::NoResult` |
/// | `crate` | string | `"::taskq"` | the path of the `taskq` crate, if it is renamed or re-exported |
///
/// A duration is a string of whole numbers, each followed by a unit, largest first: `"500ms"`,
/// `"30s"`, `"5m"`, `"1h"`, `"7d"`, `"1m30s"`.
///
/// ```
/// use std::time::Duration;
///
/// #[taskq::task(
///     name = "images.thumbnail",
///     queue = "images",
///     priority = 7,
///     retries = 5,
///     backoff = "500ms",
///     backoff_max = "1m",
///     jitter = false,
///     timeout = "2m",
///     result_ttl = "1h",
/// )]
/// fn thumbnail(path: String, width: u32) -> Result<String, std::io::Error> {
///     Ok(format!("{path}@{width}"))
/// }
///
/// use taskq::Task;
/// let options = <thumbnail as Task>::OPTIONS;
/// assert_eq!(<thumbnail as Task>::NAME, "images.thumbnail");
/// assert_eq!(options.queue, "images");
/// assert_eq!(options.priority, 7);
/// assert_eq!(options.max_attempts, 6);
/// assert_eq!(options.backoff.base_ms, 500);
/// assert_eq!(options.backoff.cap_ms, 60_000);
/// assert!(!options.backoff.jitter);
/// assert_eq!(options.timeout, Some(Duration::from_secs(120)));
/// assert_eq!(options.result_ttl, Some(Duration::from_secs(3600)));
///
/// // A plain `fn` is still a plain function; `new` makes the call to send.
/// assert_eq!(thumbnail("cat.png".into(), 64).unwrap(), "cat.png@64");
/// let call = thumbnail::new("cat.png".into(), 64);
/// assert_eq!(call.task().map(|t| t.width), Some(64));
/// ```
///
/// A task that takes a `Context`, and one that ignores its result:
///
/// ```
/// use taskq::Context;
///
/// #[taskq::task(retries = 3)]
/// async fn charge(order: u64, ctx: Context, cents: u64) -> Result<u64, String> {
///     if ctx.is_last_attempt() {
///         return Err(format!("giving up on order {order}"));
///     }
///     Ok(cents)
/// }
///
/// #[taskq::task(ignore_result, queue = "mail")]
/// async fn send_receipt(to: String) {
///     let _ = to;
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Kept as written: call it with a context, or send `charge::new(order, cents)`.
/// let ctx = Context::detached("charge");
/// assert_eq!(charge(7, ctx, 500).await, Err("giving up on order 7".to_string()));
/// let _call = charge::new(7, 500);
///
/// use taskq::Task;
/// assert_eq!(<send_receipt as Task>::OPTIONS.result_ttl, None);
/// send_receipt("a@example.com".into()).await;
/// # }
/// ```
///
/// Mistakes are compile errors at the token to change, all reported at once:
///
/// ```compile_fail
/// #[taskq::task(retries = "3", timeout = "30 seconds")]
/// async fn greet(name: &str) -> String {
///     format!("hello {name}")
/// }
/// ```
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::task(args.into(), item.into()).into()
}

/// Turns a function that builds a canvas (a chain, group, chord or DAG of tasks) into a
/// workflow: registered by name, started with its typed arguments, or by name with JSON ones.
///
/// ```
/// use taskq::canvas::{chord, group, Canvas};
///
/// #[taskq::task]
/// async fn fetch(n: u32) -> Vec<u32> { (1..=n).collect() }
/// #[taskq::task]
/// async fn scale(values: Vec<u32>, by: u32) -> u32 { values.iter().map(|v| v * by).sum() }
/// #[taskq::task]
/// async fn total(sums: Vec<u32>) -> u32 { sums.iter().sum() }
///
/// /// Fetches `n` numbers, scales them by each factor in parallel, and adds it all up.
/// #[taskq::workflow(name = "etl.pipeline")]
/// pub fn pipeline(n: u32, factors: Vec<u32>) -> impl Canvas<Output = u32> {
///     let members = factors.into_iter().map(|by| fetch::new(n).then(scale::partial(by)));
///     chord(group(members.collect::<Vec<_>>()), total::partial())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
///
/// // Typed: an `AsyncResult<u32>`.
/// let handle = pipeline::new(3, vec![1, 10]).delay_on(&client).await?;
/// assert_eq!(handle.get().await?, 6 + 60);
///
/// // By name, with JSON arguments, as a CLI or an HTTP handler would:
/// let args = taskq::Payload::from_json(r#"{ "n": 2, "factors": [1, 2] }"#.to_owned()).unwrap();
/// let handle = client.start_workflow("etl.pipeline", args).await?; // AsyncResult<serde_json::Value>
/// assert_eq!(handle.get().await?, 3 + 6);
///
/// // The function is still a function that returns the canvas.
/// let _canvas = pipeline(1, vec![1]);
/// worker.shutdown().await?;
/// # Ok(())
/// # }
/// ```
///
/// # What it generates
///
/// For `fn pipeline(n: u32, factors: Vec<u32>) -> impl Canvas<Output = u32>`, next to the
/// function, which is kept as written:
///
/// - a struct named like the function, `pipeline { pub n: u32, pub factors: Vec<u32> }`, with
///   its visibility, deriving `Serialize` and `Deserialize`: the workflow's arguments.
/// - `pipeline::new(n, factors)`, a
///   [`WorkflowCall`](https://docs.rs/taskq/latest/taskq/canvas/struct.WorkflowCall.html):
///   `.delay()` it to start the workflow and get an `AsyncResult<u32>`.
/// - an implementation of
///   [`Workflow`](https://docs.rs/taskq/latest/taskq/canvas/trait.Workflow.html): its `NAME`
///   (the module path and the function's name unless `name = "..."`), its `Canvas` (the
///   return type; for `impl Canvas<Output = T>`, which has no name, a `BoxedCanvas<T>`), and
///   `build`, which calls the function.
/// - an entry in the workflow registry, made at link time, so `Client::start_workflow` and the
///   `taskq.start_workflow` task find it by name, with the workflow's JSON Schemas, as for a
///   task.
///
/// # The function
///
/// - It is a plain `fn` (it builds the canvas; the tasks do the work), and returns a canvas:
///   `impl Canvas<Output = T>`, or a canvas type by name (`Chain<Call<fetch>, Partial<sum>>`).
/// - Its arguments are what is sent to start it by name, so, as for a task, they must be owned,
///   implement `Serialize` and `Deserialize`, and be plain names other than `task` and
///   `options`. It takes no `Context`.
/// - It cannot be `unsafe`, `extern`, generic, or take `self`.
///
/// # Options
///
/// | key | value | default | meaning |
/// |---|---|---|---|
/// | `name` | string | `"<module path>::<fn name>"` | the name it is registered and started under; ASCII letters, digits, `_ . : -` |
/// | `crate` | string | `"::taskq"` | the path of the `taskq` crate, if it is renamed or re-exported |
///
/// Mistakes are compile errors at the token to change, all reported at once:
///
/// ```compile_fail
/// #[taskq::task]
/// async fn fetch(n: u32) -> Vec<u32> { (1..=n).collect() }
///
/// #[taskq::workflow(queue = "etl")]
/// async fn pipeline(n: &u32) -> impl taskq::canvas::Canvas<Output = Vec<u32>> {
///     fetch::new(*n)
/// }
/// ```
#[proc_macro_attribute]
pub fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::workflow(args.into(), item.into()).into()
}

/// Registers an `async fn` as a lifecycle hook of every worker in the binary, at link time:
/// `#[taskq::hook(after_success)]` (or `before_start`, `after_retry`, `after_failure`,
/// `after_dead_letter`, `after_revoked`, `after_lease_lost`). The function takes a
/// `taskq::hooks::HookEvent` and returns `()` or `Result<(), E>` with `E` turning into a boxed
/// error; it stays callable as written. See `taskq::hooks`.
///
/// ```
/// #[taskq::hook(after_failure)]
/// async fn alert(ev: taskq::hooks::HookEvent) -> Result<(), String> {
///     let _ = ev.error;
///     Ok(())
/// }
/// # fn main() {
/// assert!(taskq::hooks::linked().iter().any(|h| h.name.ends_with("::alert")));
/// # }
/// ```
#[proc_macro_attribute]
pub fn hook(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(args.into(), item.into()).into()
}
