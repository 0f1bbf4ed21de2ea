//! Trace propagation (feature `otel`): the W3C `traceparent` of the producer's span travels in
//! the message through a real Redis, and the worker's run span is its child on the first attempt
//! and a new trace linked to it on a retry. Spans are collected by the OpenTelemetry SDK's
//! in-memory exporter.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use taskq::{Client, Context, Worker};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[taskq::task(name = "trace.hello", queue = "trace")]
async fn hello(n: u32) -> u32 {
    n + 1
}

/// Fails its first attempt, succeeds on the retry.
#[taskq::task(name = "trace.flaky", queue = "trace", retries = 1, backoff = "10ms")]
async fn flaky(ctx: Context, n: u32) -> Result<u32, String> {
    if ctx.attempt() == 1 {
        Err("first attempts fail".into())
    } else {
        Ok(n)
    }
}

struct Tracing {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

/// One global subscriber for the binary: the worker's runtime threads must see it.
fn tracing() -> &'static Tracing {
    static TRACING: OnceLock<Tracing> = OnceLock::new();
    TRACING.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("taskq-tests"));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("the only subscriber of this test binary");
        Tracing { exporter, provider }
    })
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

/// The finished spans: the producer span named `name`, and the run spans of task `id` by
/// attempt.
async fn spans_of(
    name: &str,
    which: &str,
    id: taskq::TaskId,
    attempts: usize,
) -> (SpanData, Vec<SpanData>) {
    let t = tracing();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let _ = t.provider.force_flush();
        let spans = t.exporter.get_finished_spans().expect("spans");
        let producer = spans
            .iter()
            .find(|s| s.name == name && attribute(s, "which").as_deref() == Some(which))
            .cloned();
        let mut runs: Vec<SpanData> = spans
            .iter()
            .filter(|s| s.name == "task" && attribute(s, "task_id") == Some(id.to_string()))
            .cloned()
            .collect();
        runs.sort_by_key(|s| attribute(s, "attempt"));
        if let (Some(p), true) = (&producer, runs.len() >= attempts) {
            return (p.clone(), runs);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spans missing: producer {name} {}, {} of {attempts} runs of {id}; have {:?}",
            producer.is_some(),
            runs.len(),
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn follows_the_trace(client: Client, which: &str) {
    tracing();
    let worker = Worker::builder()
        .client(client.clone())
        .queues(["trace"])
        .spawn()
        .unwrap();

    // First attempt: a child of the producer's span, in its trace.
    let produce = tracing::info_span!("produce hello", which);
    let handle = hello::new(1)
        .delay_on(&client)
        .instrument(produce.clone())
        .await
        .unwrap();
    drop(produce);
    assert_eq!(handle.get().await.unwrap(), 2);
    let (producer, runs) = spans_of("produce hello", which, handle.id(), 1).await;
    let run = &runs[0];
    assert_eq!(
        run.span_context.trace_id(),
        producer.span_context.trace_id()
    );
    assert_eq!(run.parent_span_id, producer.span_context.span_id());
    assert!(run.parent_span_is_remote, "the parent came in the message");
    assert_eq!(
        attribute(run, "trace_id"),
        Some(producer.span_context.trace_id().to_string()),
        "the run span's trace_id field (what the logs show) is the trace's id"
    );
    assert_eq!(attribute(run, "task").as_deref(), Some("trace.hello"));

    // A retry: its own trace, linked to the producer's span; the first attempt is a child.
    let produce = tracing::info_span!("produce flaky", which);
    let handle = flaky::new(7)
        .delay_on(&client)
        .instrument(produce.clone())
        .await
        .unwrap();
    drop(produce);
    assert_eq!(handle.get().await.unwrap(), 7);
    let (producer, runs) = spans_of("produce flaky", which, handle.id(), 2).await;
    let (first, retry) = (&runs[0], &runs[1]);
    assert_eq!(attribute(first, "attempt").as_deref(), Some("1"));
    assert_eq!(attribute(retry, "attempt").as_deref(), Some("2"));
    assert_eq!(first.parent_span_id, producer.span_context.span_id());
    assert_eq!(
        first.span_context.trace_id(),
        producer.span_context.trace_id()
    );
    assert_eq!(
        retry.parent_span_id,
        SpanId::INVALID,
        "a retry starts a new trace"
    );
    assert_ne!(
        retry.span_context.trace_id(),
        producer.span_context.trace_id()
    );
    assert_ne!(retry.span_context.trace_id(), TraceId::INVALID);
    let links: Vec<_> = retry.links.iter().map(|l| &l.span_context).collect();
    assert_eq!(links.len(), 1, "one link: {links:?}");
    assert_eq!(links[0].trace_id(), producer.span_context.trace_id());
    assert_eq!(links[0].span_id(), producer.span_context.span_id());
    assert_eq!(
        attribute(retry, "trace_id"),
        Some(retry.span_context.trace_id().to_string())
    );

    // In the message itself (stored by the backend, read back by `inspect`): the sending span's
    // context, and nothing when sent outside any span.
    let produce = tracing::info_span!("produce idle", which);
    let sent = async { hello::new(3).queue("trace-idle").delay_on(&client).await }
        .instrument(produce.clone())
        .await
        .unwrap();
    let cx = produce.context();
    let sc = cx.span().span_context().clone();
    let want = format!("00-{}-{}-01", sc.trace_id(), sc.span_id());
    let stored = client
        .inspect(sent.id())
        .await
        .unwrap()
        .and_then(|d| d.envelope);
    assert_eq!(stored.and_then(|e| e.traceparent), Some(want));
    let bare = hello::new(4)
        .queue("trace-idle")
        .delay_on(&client)
        .await
        .unwrap();
    let stored = client
        .inspect(bare.id())
        .await
        .unwrap()
        .and_then(|d| d.envelope);
    assert_eq!(stored.map(|e| e.traceparent), Some(None));

    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_continues_the_producers_trace_across_redis() {
    let server = taskq_redis::testing::RedisServer::start();
    let client = Client::connect(&server.url()).await.unwrap();
    follows_the_trace(client, "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_continues_the_producers_trace_in_memory() {
    follows_the_trace(Client::memory(), "memory").await;
}
