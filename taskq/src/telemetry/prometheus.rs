//! taskq's Prometheus recorder (`metrics-exporter-prometheus`, histograms with explicit buckets)
//! and a small `/metrics` responder on tokio.
//!
//! The responder answers `GET /metrics` (and `GET /`) with the text format and closes the
//! connection, which is all a Prometheus scrape needs; a web application renders the same text
//! with [`PrometheusHandle::render`] from its own router.

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::metrics::{enable_metrics, names, DURATION_BUCKETS, WAIT_BUCKETS};
use super::TelemetryError;

/// How often histograms are drained into their buckets: each recorded value waits in a buffer
/// (8 bytes) until then, so a worker running 200,000 tasks/s buffers about 3 MB in a second.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Renders taskq's metrics (and any others recorded through the `metrics` facade) in the
/// Prometheus text format. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PrometheusHandle {
    inner: metrics_exporter_prometheus::PrometheusHandle,
}

impl PrometheusHandle {
    /// The metrics now, in the Prometheus text exposition format (version 0.0.4).
    ///
    /// ```
    /// let metrics = taskq::telemetry::install_prometheus().unwrap();
    /// assert!(metrics.render().contains("taskq_build_info"));
    /// ```
    pub fn render(&self) -> String {
        self.inner.render()
    }
}

/// Installs taskq's Prometheus recorder as this process's `metrics` recorder (once; later calls
/// return the same handle) and starts feeding it ([`enable_metrics`]). Histograms get explicit
/// buckets ([`DURATION_BUCKETS`], [`WAIT_BUCKETS`]), never summaries; a background thread
/// drains them every second.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// #[taskq::task]
/// async fn ping() -> u32 {
///     1
/// }
///
/// let metrics = taskq::telemetry::install_prometheus()?;
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
/// ping::new().delay_on(&client).await?.get().await?;
/// worker.shutdown().await?;
/// let text = metrics.render();
/// assert!(text.contains(r#"taskq_tasks_completed_total{task="rust_out::ping",queue="default",status="succeeded"} 1"#), "{text}");
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`TelemetryError::RecorderInstalled`] if the process has another `metrics` recorder (feed
/// that one with [`enable_metrics`] instead).
pub fn install_prometheus() -> Result<PrometheusHandle, TelemetryError> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    static INSTALLING: Mutex<()> = Mutex::new(());
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::TASK_DURATION.into()), DURATION_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(names::TASK_WAIT.into()), WAIT_BUCKETS)
        })
        // Only empty bucket lists are refused, and ours are constants.
        .unwrap_or_default()
        .upkeep_timeout(UPKEEP_EVERY);
    let inner = builder
        .install_recorder()
        .map_err(|_| TelemetryError::RecorderInstalled)?;
    let upkeep = inner.clone();
    // A thread, not a task: the handle may be installed before (or without) a runtime.
    let spawned = std::thread::Builder::new()
        .name("taskq-metrics-upkeep".into())
        .stack_size(256 * 1024)
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            upkeep.run_upkeep();
        });
    if let Err(e) = spawned {
        // Histograms are still drained at every scrape.
        tracing::warn!(error = %e, "could not start the metrics upkeep thread");
    }
    enable_metrics();
    let handle = PrometheusHandle { inner };
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// A running `/metrics` endpoint; it stops when this is dropped or [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl MetricsServer {
    /// The address it listens on (with the port chosen when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving.
    pub fn shutdown(self) {}
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Installs taskq's Prometheus recorder ([`install_prometheus`]) and serves it at
/// `http://ADDR/metrics` from the current tokio runtime. A worker does this itself when
/// `TASKQ_METRICS_ADDR` is set; a process that only sends tasks can call it to expose
/// `taskq_tasks_submitted_total`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = taskq::telemetry::serve_prometheus("127.0.0.1:0".parse()?)?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`TelemetryError::Listen`] if the address cannot be listened on;
/// [`TelemetryError::RecorderInstalled`] as [`install_prometheus`].
///
/// # Panics
/// Outside a tokio runtime.
pub fn serve_prometheus(addr: SocketAddr) -> Result<MetricsServer, TelemetryError> {
    let handle = install_prometheus()?;
    let listen = |source| TelemetryError::Listen { addr, source };
    let std_listener = std::net::TcpListener::bind(addr).map_err(listen)?;
    std_listener.set_nonblocking(true).map_err(listen)?;
    let local = std_listener.local_addr().map_err(listen)?;
    let listener = tokio::net::TcpListener::from_std(std_listener).map_err(listen)?;
    let stop = CancellationToken::new();
    tokio::spawn(accept(listener, handle, stop.clone()));
    tracing::info!(addr = %local, "serving metrics at /metrics");
    Ok(MetricsServer { addr: local, stop })
}

async fn accept(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    stop: CancellationToken,
) {
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.cancelled() => return,
        };
        match conn {
            Ok((stream, _)) => {
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REQUEST_TIMEOUT, respond(stream, &handle)).await;
                });
            }
            Err(e) => {
                // Out of file descriptors, most likely: wait rather than spin.
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request head and answers it.
async fn respond(
    mut stream: tokio::net::TcpStream,
    handle: &PrometheusHandle,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > 16 * 1024 {
            break;
        }
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics" | "/") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            handle.render(),
        ),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: metrics are at /metrics\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET is served\n".to_owned(),
        ),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}
