//! A workflow returning `impl Canvas<Output = T>`: started typed, by name with JSON arguments,
//! and still a function.

use taskq::canvas::{chord, group, Canvas, Workflow};

#[taskq::task]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn scale(values: Vec<u32>, by: u32) -> u32 {
    values.iter().map(|v| v * by).sum()
}

#[taskq::task]
async fn total(sums: Vec<u32>) -> u32 {
    sums.iter().sum()
}

/// Fetches, scales by each factor in parallel, adds up.
#[taskq::workflow(name = "etl.pipeline")]
pub fn pipeline(n: u32, factors: Vec<u32>) -> impl Canvas<Output = u32> {
    let members: Vec<_> = factors
        .into_iter()
        .map(|by| fetch::new(n).then(scale::partial(by)))
        .collect();
    chord(group(members), total::partial())
}

/// The default name, with `mut` arguments and no arguments at all.
#[taskq::workflow]
fn adjusted(mut n: u32) -> impl Canvas<Output = u32> + Send + 'static {
    n += 1;
    fetch::new(n).then(total::partial())
}

/// No arguments.
#[taskq::workflow]
fn constant() -> impl Canvas<Output = u32> {
    total::new(vec![1, 2, 3])
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;

    let handle: taskq::AsyncResult<u32> = pipeline::new(3, vec![1, 10]).delay_on(&client).await?;
    assert_eq!(handle.get().await?, 66);
    assert_eq!(<pipeline as Workflow>::NAME, "etl.pipeline");

    let args = taskq::Payload::from_json(r#"{"n": 2, "factors": [1, 2]}"#.to_owned()).unwrap();
    let handle = client.start_workflow("etl.pipeline", args).await?;
    assert_eq!(handle.get().await?, serde_json::json!(9));

    assert_eq!(adjusted::new(2).delay_on(&client).await?.get().await?, 6);
    assert!(<adjusted as Workflow>::NAME.ends_with("::adjusted"));
    assert!(taskq::canvas::find_workflow(<adjusted as Workflow>::NAME).is_some());
    assert_eq!(constant::new().delay_on(&client).await?.get().await?, 6);

    // The struct is the JSON shape of the arguments.
    let w = pipeline {
        n: 1,
        factors: vec![2],
    };
    assert_eq!(
        serde_json::to_value(&w).unwrap(),
        serde_json::json!({ "n": 1, "factors": [2] })
    );
    // The function still returns the canvas; `build` and `WorkflowCall::build` give it boxed.
    let _canvas = pipeline(1, vec![1]);
    let _boxed: taskq::canvas::BoxedCanvas<u32> = w.build();

    worker.shutdown().await?;
    Ok(())
}
