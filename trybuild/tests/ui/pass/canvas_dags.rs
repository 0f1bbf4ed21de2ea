//! DAGs: steps depend on steps declared before them; fan-in receives a tuple.

use taskq::canvas::Dag;

#[taskq::task]
async fn load(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[taskq::task]
async fn sum(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

#[taskq::task]
async fn max(values: Vec<u32>) -> u32 {
    values.iter().copied().max().unwrap_or(0)
}

#[taskq::task]
async fn label(text: String) -> String {
    text
}

#[taskq::task]
async fn report(stats: (u32, u32, String), unit: String) -> String {
    format!("{}: sum {}{unit} max {}{unit}", stats.2, stats.0, stats.1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;

    let mut dag = Dag::new();
    let data = dag.step("load", load::new(4));
    let title = dag.step("label", label::new("stats".into()));
    let total = dag.after("sum", data, sum::partial());
    let top = dag.after("max", data, max::partial());
    let out = dag.after("report", (total, top, title), report::partial("kg".into()));
    let handle = dag.finish(out).delay_on(&client).await?;
    assert_eq!(handle.get().await?, "stats: sum 10kg max 4kg");

    worker.shutdown().await?;
    Ok(())
}
