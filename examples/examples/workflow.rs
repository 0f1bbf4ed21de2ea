//! An ETL-like pipeline as a workflow: fetch -> parse -> a group of three different transforms
//! in parallel ->
//! a chord callback that aggregates them. The compiler checks that each step's output fits the
//! next step's first argument; the backend counts the group's members, nobody polls.
//!
//! ```sh
//! cargo run -p taskq-examples --example workflow
//! ```

use serde::{Deserialize, Serialize};
use taskq::canvas::{group, Canvas};

/// One parsed record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    city: String,
    celsius: f64,
}

/// What the pipeline produces.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    source: String,
    summaries: Vec<String>,
}

/// Extract: fetch raw CSV text (here from a built-in sample).
#[taskq::task(queue = "etl", retries = 2, backoff = "100ms", timeout = "30s")]
async fn fetch(source: String) -> Result<String, String> {
    match source.as_str() {
        "sample" => Ok("city,celsius\nOslo,-3.5\nLisbon,17.0\nCairo,24.5\nQuito,14.0\n".into()),
        other => Err(format!("unknown source `{other}`")),
    }
}

/// Transform, part 1: parse the CSV into records.
#[taskq::task(queue = "etl")]
fn parse(csv: String) -> Result<Vec<Record>, String> {
    csv.lines()
        .skip(1)
        .map(|line| {
            let (city, c) = line.split_once(',').ok_or(format!("bad line `{line}`"))?;
            let celsius = c
                .parse()
                .map_err(|e| format!("bad number in `{line}`: {e}"))?;
            Ok(Record {
                city: city.into(),
                celsius,
            })
        })
        .collect()
}

/// Transform, in parallel: the mean temperature.
#[taskq::task(queue = "etl")]
async fn mean(records: Vec<Record>) -> String {
    let m = records.iter().map(|r| r.celsius).sum::<f64>() / records.len().max(1) as f64;
    format!("mean {m:.1} °C")
}

/// Transform, in parallel: the warmest city.
#[taskq::task(queue = "etl")]
async fn warmest(records: Vec<Record>) -> String {
    let w = records
        .iter()
        .max_by(|a, b| a.celsius.total_cmp(&b.celsius));
    format!("warmest {}", w.map_or("none", |r| r.city.as_str()))
}

/// Transform, in parallel: cities below a threshold.
#[taskq::task(queue = "etl")]
async fn below(records: Vec<Record>, threshold: f64) -> String {
    let cold: Vec<&str> = records
        .iter()
        .filter(|r| r.celsius < threshold)
        .map(|r| r.city.as_str())
        .collect();
    format!("below {threshold} °C: {}", cold.join(", "))
}

/// Load: the chord callback, once every transform is done; a tuple group's outputs arrive as a
/// tuple, each typed by its task.
#[taskq::task(queue = "etl")]
async fn aggregate(summaries: (String, String, String), source: String) -> Report {
    let (mean, warmest, cold) = summaries;
    Report {
        source,
        summaries: vec![mean, warmest, cold],
    }
}

/// The pipeline, registered by name: `etl.pipeline` can be started with JSON arguments too.
#[taskq::workflow(name = "etl.pipeline")]
fn pipeline(source: String) -> impl Canvas<Output = Report> {
    fetch::new(source.clone())
        .then(parse::partial())
        .then(group((
            mean::partial(),
            warmest::partial(),
            below::partial(10.0),
        )))
        .then(aggregate::partial(source))
}

#[tokio::main]
async fn main() -> Result<(), taskq::Error> {
    let client = taskq::Client::memory();
    let worker = taskq::Worker::builder().client(client.clone()).spawn()?;

    let report = pipeline::new("sample".into())
        .delay_on(&client)
        .await?
        .get()
        .await?;
    println!("report for `{}`:", report.source);
    for line in &report.summaries {
        println!("  {line}");
    }

    // The same workflow by name, with JSON arguments, as an HTTP handler or a CLI would start it.
    let args =
        taskq::Payload::encode(&serde_json::json!({ "source": "nowhere" })).map_err(|source| {
            taskq::Error::Encode {
                what: "arguments",
                source,
            }
        })?;
    let failed = client
        .start_workflow("etl.pipeline", args)
        .await?
        .get()
        .await;
    match failed {
        Ok(value) => println!("unexpected: {value}"),
        Err(e) => println!("a failing source: {e}"),
    }

    worker.shutdown().await?;
    Ok(())
}
