//! Chains type-check step by step and run: `a.then(b::partial(x)).then(c::partial())`.

use taskq::canvas::Canvas;
use taskq::Context;

#[taskq::task]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn scale(values: Vec<u32>, by: u32) -> Vec<u32> {
    values.iter().map(|v| v * by).collect()
}

#[taskq::task]
async fn sum(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

/// A sync task that fails with a `Result`: its output is the `Ok` type.
#[taskq::task]
fn to_text(n: u32, prefix: String) -> Result<String, String> {
    Ok(format!("{prefix}{n}"))
}

/// The first argument after the `Context` is the input; `partial` takes the rest.
#[taskq::task]
async fn tag(ctx: Context, text: String, suffix: String, times: usize) -> String {
    let _ = ctx;
    format!("{text}{}", suffix.repeat(times))
}

/// A raw identifier keeps its name on the wire.
#[taskq::task]
async fn typed(r#type: String, r#mod: u8) -> String {
    format!("{}/{}", r#type, r#mod)
}

fn chain_type<C: Canvas>(_: &C) -> &'static str {
    std::any::type_name::<C::Output>()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;

    let chain = fetch::new(3).then(scale::partial(10)).then(sum::partial());
    assert_eq!(chain_type(&chain), "u32");
    assert_eq!(chain.delay_on(&client).await?.get().await?, 60);

    let chain = sum::new(vec![1, 2])
        .then(to_text::partial("n=".to_owned()))
        .then(tag::partial("!".to_owned(), 2))
        .then(typed::partial(7));
    assert_eq!(chain.delay_on(&client).await?.get().await?, "n=3!!/7");

    // A chain of partial calls, attached as a whole.
    let rest = scale::partial(2).then(sum::partial());
    let chain = fetch::new(2).then(rest);
    assert_eq!(chain.delay_on(&client).await?.get().await?, 6);

    worker.shutdown().await?;
    Ok(())
}
