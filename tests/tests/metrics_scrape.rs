//! A worker's `/metrics`, scraped over HTTP and read by a real Prometheus parser (Python's
//! `prometheus_client`, pinned in `taskq-celery/python/requirements.txt`), against the tasks that
//! ran: successes, failed attempts of each kind, retries, dead letters, queue depth. With the
//! backend's event log off (`TASKQ_EVENTS=off`), which metrics must not depend on.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use taskq::{Client, Envelope, Payload, Worker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[taskq::task(name = "metrics.ok", queue = "metrics")]
async fn ok(n: u32) -> u32 {
    n
}

#[taskq::task(
    name = "metrics.fails",
    queue = "metrics",
    retries = 1,
    backoff = "10ms"
)]
async fn fails(n: u32) -> Result<u32, String> {
    Err(format!("no {n}"))
}

#[taskq::task(name = "metrics.boom", queue = "metrics")]
async fn boom() -> u32 {
    panic!("boom")
}

#[taskq::task(name = "metrics.slow", queue = "metrics", timeout = "50ms")]
async fn slow() {
    tokio::time::sleep(Duration::from_secs(5)).await;
}

const OK: u32 = 20;
const FAILS: u32 = 3;

/// One sample as the Python parser read it.
#[derive(Debug, Deserialize)]
struct Sample {
    family: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append({"family": fam.name, "type": fam.type, "name": s.name,
                    "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;

/// Parses a scrape with `prometheus_client`; a scrape it rejects fails the test.
fn parse(text: &str) -> Vec<Sample> {
    let python = taskq_celery::testing::python();
    let mut child = Command::new(&python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejected the scrape: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `GET /metrics`, the plain way a Prometheus server does it.
async fn scrape(addr: SocketAddr) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: worker\r\nAccept: text/plain\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn expect(samples: &[Sample], name: &str, labels: &[(&str, &str)], want: f64) {
    assert_eq!(value(samples, name, labels), Some(want), "{name}{labels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_counts_what_ran() {
    // Metrics come from the events this process records, not from the backend's log.
    taskq::events::set_enabled(false);
    let client = Client::memory();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["metrics"])
        .concurrency(8)
        .metrics_addr("127.0.0.1:0".parse().unwrap())
        .spawn()
        .unwrap();
    let addr = worker.metrics_addr().expect("serving metrics");

    let oks = client.send_many((0..OK).map(ok::new)).await.unwrap();
    let failing = client.send_many((0..FAILS).map(fails::new)).await.unwrap();
    let boom = boom::new().delay_on(&client).await.unwrap();
    let slow = slow::new().delay_on(&client).await.unwrap();
    let stray = Envelope::new("metrics.nobody", "metrics", Payload::null());
    let stray_id = stray.id;
    client.send_envelopes(vec![stray]).await.unwrap();

    for (i, h) in oks.into_iter().enumerate() {
        assert_eq!(h.get().await.unwrap(), i as u32);
    }
    for h in failing {
        assert!(h.get().await.is_err());
    }
    assert!(boom.get().await.is_err());
    assert!(slow.get().await.is_err());
    assert!(client
        .result::<serde_json::Value>(stray_id)
        .get_timeout(Duration::from_secs(10))
        .await
        .is_err());

    // The queue gauges are sampled every five seconds: wait for a sample after the last dead
    // letter.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let samples = loop {
        let samples = parse(&scrape(addr).await);
        let dead = value(
            &samples,
            "taskq_queue_depth",
            &[("queue", "metrics"), ("state", "dead")],
        );
        if dead == Some(6.0) || tokio::time::Instant::now() > deadline {
            break samples;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let (ok_, fails_, boom_, slow_, nobody) = (
        [("task", "metrics.ok"), ("queue", "metrics")],
        [("task", "metrics.fails"), ("queue", "metrics")],
        [("task", "metrics.boom"), ("queue", "metrics")],
        [("task", "metrics.slow"), ("queue", "metrics")],
        [("task", "metrics.nobody"), ("queue", "metrics")],
    );
    let with = |base: &[(&'static str, &'static str); 2], extra: (&'static str, &'static str)| {
        [base[0], base[1], extra]
    };

    for (labels, n) in [
        (&ok_, OK),
        (&fails_, FAILS),
        (&boom_, 1),
        (&slow_, 1),
        (&nobody, 1),
    ] {
        expect(
            &samples,
            "taskq_tasks_submitted_total",
            labels,
            f64::from(n),
        );
    }
    for (labels, n) in [(&ok_, OK), (&fails_, FAILS * 2), (&boom_, 1), (&slow_, 1)] {
        expect(&samples, "taskq_tasks_started_total", labels, f64::from(n));
    }
    assert_eq!(value(&samples, "taskq_tasks_started_total", &nobody), None);

    let completed = "taskq_tasks_completed_total";
    expect(
        &samples,
        completed,
        &with(&ok_, ("status", "succeeded")),
        f64::from(OK),
    );
    expect(
        &samples,
        completed,
        &with(&fails_, ("status", "failed")),
        f64::from(FAILS),
    );
    expect(
        &samples,
        completed,
        &with(&boom_, ("status", "failed")),
        1.0,
    );
    expect(
        &samples,
        completed,
        &with(&slow_, ("status", "failed")),
        1.0,
    );
    expect(
        &samples,
        completed,
        &with(&nobody, ("status", "failed")),
        1.0,
    );
    // Final outcomes only: the retried attempts are not in it.
    let total_completed: f64 = samples
        .iter()
        .filter(|s| s.name == completed)
        .map(|s| s.value)
        .sum();
    assert_eq!(total_completed, f64::from(OK + FAILS + 3));

    let failed = "taskq_task_attempts_failed_total";
    expect(
        &samples,
        failed,
        &with(&fails_, ("kind", "error")),
        f64::from(FAILS * 2),
    );
    expect(&samples, failed, &with(&boom_, ("kind", "panic")), 1.0);
    expect(&samples, failed, &with(&slow_, ("kind", "timeout")), 1.0);
    assert_eq!(value(&samples, failed, &ok_), None);

    expect(
        &samples,
        "taskq_tasks_retried_total",
        &fails_,
        f64::from(FAILS),
    );
    assert_eq!(value(&samples, "taskq_tasks_retried_total", &boom_), None);

    let dead = "taskq_dead_letters_total";
    let exhausted = ("reason", "attempts_exhausted");
    expect(&samples, dead, &with(&fails_, exhausted), f64::from(FAILS));
    expect(&samples, dead, &with(&boom_, exhausted), 1.0);
    expect(&samples, dead, &with(&slow_, exhausted), 1.0);
    expect(
        &samples,
        dead,
        &with(&nobody, ("reason", "unknown_task")),
        1.0,
    );

    // Histograms with buckets, never summaries: one observation per attempt (duration) and
    // per first attempt (wait).
    for family in ["taskq_task_duration_seconds", "taskq_task_wait_seconds"] {
        assert!(
            samples
                .iter()
                .filter(|s| s.family == family)
                .all(|s| s.kind == "histogram"),
            "{family} is a histogram"
        );
    }
    expect(
        &samples,
        "taskq_task_duration_seconds_count",
        &ok_,
        f64::from(OK),
    );
    expect(
        &samples,
        "taskq_task_duration_seconds_count",
        &fails_,
        f64::from(FAILS * 2),
    );
    expect(
        &samples,
        "taskq_task_wait_seconds_count",
        &ok_,
        f64::from(OK),
    );
    expect(
        &samples,
        "taskq_task_wait_seconds_count",
        &fails_,
        f64::from(FAILS),
    );
    let le: Vec<&str> = samples
        .iter()
        .filter(|s| {
            s.name == "taskq_task_duration_seconds_bucket"
                && s.labels.get("task").map(String::as_str) == Some("metrics.ok")
        })
        .filter_map(|s| s.labels.get("le").map(String::as_str))
        .collect();
    assert_eq!(
        le.len(),
        taskq::telemetry::DURATION_BUCKETS.len() + 1,
        "{le:?}"
    );
    assert_eq!(le.last(), Some(&"+Inf"));
    expect(
        &samples,
        "taskq_task_duration_seconds_bucket",
        &with(&ok_, ("le", "+Inf")),
        f64::from(OK),
    );

    // Nothing is running now; the worker is up; its slots add up to its concurrency.
    for task in [
        "metrics.ok",
        "metrics.fails",
        "metrics.boom",
        "metrics.slow",
    ] {
        expect(&samples, "taskq_tasks_running", &[("task", task)], 0.0);
    }
    expect(&samples, "taskq_worker_up", &[], 1.0);
    let busy = value(&samples, "taskq_worker_slots", &[("state", "busy")]).unwrap();
    let idle = value(&samples, "taskq_worker_slots", &[("state", "idle")]).unwrap();
    assert_eq!(busy + idle, 8.0);
    assert!(
        value(
            &samples,
            "taskq_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ) == Some(1.0)
    );
    expect(&samples, "taskq_backend_reconnects_total", &[], 0.0);

    // Sampled from the backend: the dead letters are in the queue, nothing else is.
    let depth = |state| {
        value(
            &samples,
            "taskq_queue_depth",
            &[("queue", "metrics"), ("state", state)],
        )
    };
    assert_eq!(depth("dead"), Some(6.0));
    assert_eq!(depth("ready"), Some(0.0));
    assert_eq!(depth("scheduled"), Some(0.0));
    assert_eq!(depth("leased"), Some(0.0));
    expect(
        &samples,
        "taskq_queue_oldest_ready_age_seconds",
        &[("queue", "metrics")],
        0.0,
    );
    expect(&samples, "taskq_queue_paused", &[("queue", "metrics")], 0.0);

    // No label carries an id or arguments.
    for s in &samples {
        for (k, v) in &s.labels {
            assert!(
                matches!(
                    k.as_str(),
                    "task"
                        | "queue"
                        | "status"
                        | "kind"
                        | "reason"
                        | "state"
                        | "le"
                        | "version"
                        | "op"
                ),
                "unexpected label {k}={v} on {}",
                s.name
            );
        }
    }

    worker.shutdown().await.unwrap();
    // The endpoint stops with the worker.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_bad_metrics_address_is_a_clear_error() {
    // Taken: a second worker cannot listen where the first does.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Worker::builder()
        .client(Client::memory())
        .queues(["metrics-bad"])
        .metrics_addr(addr)
        .spawn()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("TASKQ_METRICS_ADDR"), "{text}");
    assert!(text.contains(&addr.to_string()), "{text}");
}
