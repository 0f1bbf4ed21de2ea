//! A circuit breaker's transitions as operators see them: one `breaker_opened` event when
//! failures open it, one `breaker_closed` when a half-open probe succeeds, and
//! `taskq_breaker_transitions_total` counting both, on the in-memory backend and on Redis
//! (whose event log stores the two kinds in its own line format).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use taskq::events::{EventCursor, EventKind, EventRead, StoredEvent};
use taskq::flow::BreakerState;
use taskq::{Client, Worker};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const QUEUE: &str = "brk-events";

/// Fails when told to; two failures within a minute open its breaker for 300 ms.
#[taskq::task(
    name = "brk.guarded",
    queue = "brk-events",
    circuit_breaker(failures = 2, within = "1m", cooldown = "300ms", probes = 1)
)]
async fn guarded(fail: bool) -> Result<u32, String> {
    if fail {
        Err("upstream down".into())
    } else {
        Ok(7)
    }
}

/// The events of `QUEUE` until `want` of the breaker kinds have come (or ten seconds).
async fn breaker_events(client: &Client, want: usize) -> Vec<StoredEvent> {
    let queues = [QUEUE.to_owned()];
    let mut cursor = EventCursor::default();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let is_breaker = |e: &StoredEvent| {
        matches!(
            e.event.kind,
            EventKind::BreakerOpened | EventKind::BreakerClosed
        )
    };
    while out.iter().filter(|e| is_breaker(e)).count() < want
        && tokio::time::Instant::now() < deadline
    {
        let got = client
            .backend()
            .read_events(EventRead {
                queues: &queues,
                after: &cursor,
                max: 1000,
                wait: Duration::from_millis(200),
            })
            .await
            .expect("read events");
        for e in &got {
            cursor.advance(e);
        }
        out.extend(got);
    }
    out.into_iter().filter(is_breaker).collect()
}

async fn scrape(addr: SocketAddr) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: worker\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    conn.read_to_string(&mut response).await.expect("response");
    response
}

/// The value of `taskq_breaker_transitions_total` for `brk.guarded` entering `to`.
fn transitions(scrape: &str, to: &str) -> Option<f64> {
    scrape
        .lines()
        .filter(|l| l.starts_with("taskq_breaker_transitions_total{"))
        .filter(|l| l.contains("task=\"brk.guarded\"") && l.contains(&format!("to=\"{to}\"")))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

async fn opens_then_closes(client: Client) {
    let worker = Worker::builder()
        .client(client.clone())
        .queues([QUEUE])
        .concurrency(4)
        .metrics_addr("127.0.0.1:0".parse().expect("an address"))
        .spawn()
        .expect("worker");
    let addr = worker.metrics_addr().expect("serving metrics");
    // The recorder is the process's: an earlier run in this process may have counted.
    let before = scrape(addr).await;
    let (opens, closes) = (
        transitions(&before, "open").unwrap_or(0.0),
        transitions(&before, "closed").unwrap_or(0.0),
    );

    // Two failures open the breaker.
    let failing = client
        .send_many((0..2).map(|_| guarded::new(true)))
        .await
        .expect("send");
    for h in failing {
        assert!(h.get().await.is_err());
    }
    let state = client
        .backend()
        .breaker_state(QUEUE, "brk.guarded")
        .await
        .expect("state");
    assert!(matches!(state, BreakerState::Open { .. }), "{state:?}");
    let opened = breaker_events(&client, 1).await;
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0].event.kind, EventKind::BreakerOpened);
    assert_eq!(opened[0].event.task, "brk.guarded");
    assert!(
        opened[0]
            .event
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("open until ")),
        "{:?}",
        opened[0].event.detail
    );

    // After the cooldown the probe succeeds and closes it.
    let probe = guarded::new(false).delay_on(&client).await.expect("send");
    assert_eq!(probe.get().await.expect("the probe runs"), 7);
    let both = breaker_events(&client, 2).await;
    let kinds: Vec<_> = both.iter().map(|e| e.event.kind).collect();
    assert_eq!(kinds, [EventKind::BreakerOpened, EventKind::BreakerClosed]);
    assert_eq!(both[1].event.id, probe.id());

    let text = scrape(addr).await;
    assert_eq!(transitions(&text, "open"), Some(opens + 1.0), "{text}");
    assert_eq!(transitions(&text, "closed"), Some(closes + 1.0), "{text}");
    worker.shutdown().await.expect("worker stops");
}

/// One test, the two backends one after the other: the metrics recorder is the process's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_transitions_are_events_and_metrics() {
    opens_then_closes(Client::memory()).await;
    let server = RedisServer::start();
    let backend = RedisBackend::connect(&server.url()).await.expect("connect");
    opens_then_closes(Client::new(Arc::new(backend))).await;
}
