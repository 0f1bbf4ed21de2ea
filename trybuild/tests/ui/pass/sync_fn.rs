//! A plain `fn` stays a plain function; the worker runs it on the blocking pool.

use taskq::{Context, Task};

#[taskq::task(queue = "cpu")]
fn checksum(data: Vec<u8>) -> u32 {
    // Blocking is fine here: this runs under `spawn_blocking`.
    std::thread::sleep(std::time::Duration::from_millis(1));
    data.iter().map(|b| u32::from(*b)).sum()
}

#[taskq::task]
fn split(text: String, ctx: Context) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Err(format!("{}: nothing to split", ctx.task_name()));
    }
    Ok(text.split(' ').map(str::to_owned).collect())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(checksum(vec![1, 2, 3]), 6);
    let call: taskq::Call<checksum> = checksum::new(vec![1, 2, 3]);
    assert_eq!(call.task().map(|t| t.data.len()), Some(3));
    assert_eq!(<checksum as Task>::OPTIONS.queue, "cpu");

    let ctx = Context::detached("split");
    let out = checksum { data: vec![4, 5] }.run(ctx.clone()).await;
    assert_eq!(out, Ok(9));

    let words = split { text: "a b".into() }.run(ctx.clone()).await;
    assert_eq!(words, Ok(vec!["a".to_string(), "b".to_string()]));
    let failed = split {
        text: String::new(),
    }
    .run(ctx)
    .await;
    assert_eq!(failed, Err("split: nothing to split".to_string()));
}
