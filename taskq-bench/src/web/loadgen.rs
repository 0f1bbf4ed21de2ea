//! A closed-loop HTTP/1.1 load generator: `connections` keep-alive connections, each sending its
//! next request as soon as the previous answer has been read in full, for a fixed time. The
//! same design as `wrk` (which needs no install here, and whose figures it reproduces within a
//! few percent on a hello-world route), in the same process as the server so the run needs
//! nothing but the bench binary.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What a load run measured.
#[derive(Debug)]
pub struct Report {
    /// Answers with the expected status, per second of the measured window.
    pub requests_per_s: f64,
    /// Latency percentiles, in microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    /// Answers with another status, and connection failures.
    pub errors: u64,
    /// How many requests were measured.
    pub requests: u64,
}

/// Makes the `n`th request of connection `conn`.
pub trait MakeRequest: Send + Sync + 'static {
    fn make(&self, conn: usize, n: u64) -> Request<Full<Bytes>>;
}

impl<F> MakeRequest for F
where
    F: Fn(usize, u64) -> Request<Full<Bytes>> + Send + Sync + 'static,
{
    fn make(&self, conn: usize, n: u64) -> Request<Full<Bytes>> {
        self(conn, n)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP handshake with {addr} failed: {source}")]
    Handshake {
        addr: SocketAddr,
        source: hyper::Error,
    },
    #[error("a load connection's task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}

/// Runs the load: `warmup` unmeasured, then `measure` measured.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    warmup: Duration,
    measure: Duration,
    expect: hyper::StatusCode,
    make: impl MakeRequest,
) -> Result<Report, LoadError> {
    let make = std::sync::Arc::new(make);
    let start = Instant::now() + warmup;
    let end = start + measure;
    let mut tasks = Vec::with_capacity(connections);
    for conn in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            one_connection(addr, conn, start, end, expect, &*make).await
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await??;
        // Same bounds, so adding cannot fail.
        let _ = hist.add(&h);
        errors += e;
    }
    let requests = hist.len();
    Ok(Report {
        requests_per_s: requests as f64 / measure.as_secs_f64(),
        p50_us: hist.value_at_quantile(0.50),
        p99_us: hist.value_at_quantile(0.99),
        errors,
        requests,
    })
}

async fn one_connection(
    addr: SocketAddr,
    conn: usize,
    start: Instant,
    end: Instant,
    expect: hyper::StatusCode,
    make: &dyn MakeRequest,
) -> Result<(Histogram<u64>, u64), LoadError> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| LoadError::Connect { addr, source })?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| LoadError::Handshake { addr, source })?;
    tokio::spawn(connection);
    let mut errors = 0;
    let mut n = 0u64;
    loop {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let req = make.make(conn, n);
        n += 1;
        let ok = match sender.send_request(req).await {
            Ok(resp) => {
                let status = resp.status();
                // Read the whole body: the time of an answer is the time of its last byte.
                let body = resp.into_body().collect().await;
                status == expect && body.is_ok()
            }
            Err(_) => false,
        };
        let done = Instant::now();
        if sent < start {
            continue;
        }
        if ok {
            let us = u64::try_from(done.duration_since(sent).as_micros()).unwrap_or(u64::MAX);
            let _ = hist.record(us.max(1));
        } else {
            errors += 1;
            if sender.ready().await.is_err() {
                // The connection is gone; the run goes on with the others.
                break;
            }
        }
    }
    Ok((hist, errors))
}
