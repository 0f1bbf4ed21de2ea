//! Telemetry: Prometheus metrics, structured logs and trace propagation, all fed by what a
//! process already records.
//!
//! ```text
//!  client ──enqueued──┐
//!  worker ──started,──┼──► events::record ──► metrics observer ──► cached handles (atomic adds)
//!    succeeded, ...   │                                                  │
//!                     │   worker sampler (every 1 s / 5 s): slots, Backend::queue_stats
//!                     │                                                  ▼
//!                     │                       `metrics` recorder ──► /metrics (Prometheus text)
//!                     │
//!  worker run span: task_id, task, queue, attempt, worker_id, trace_id ──► logs (text or JSON)
//!  Envelope.traceparent (W3C) ──► run span: child of the producer's span (first attempt),
//!                                  linked to it (retries)                  [feature `otel`]
//! ```
//!
//! - **Metrics** ([`enable_metrics`], and with feature `prometheus`, `install_prometheus`):
//!   the families of [`names`], labelled with task and queue names only. A worker serves them
//!   at `/metrics` when `TASKQ_METRICS_ADDR` (or [`WorkerBuilder::metrics_addr`]) is set.
//! - **Logs** ([`init_logs`]): `TASKQ_LOG=json` makes [`worker::run`] log one JSON object per
//!   line; every line inside a run carries the run's fields, the task's own `tracing` events
//!   included.
//! - **Traces** (feature `otel`): a message carries the W3C `traceparent` of the span that sent
//!   it ([`Envelope::traceparent`]), so a trace follows a task from producer to worker.
//!
//! [`WorkerBuilder::metrics_addr`]: crate::WorkerBuilder
//! [`worker::run`]: crate::worker::run
//! [`Envelope::traceparent`]: crate::Envelope

mod logs;
pub(crate) mod metrics;
#[cfg(feature = "prometheus")]
mod prometheus;
pub(crate) mod trace;

pub use logs::{init_logs, BadLogFormat, LogFormat, LOG_ENV};
pub use metrics::{
    enable_metrics, metrics_enabled, names, record_backend_error, record_backend_reconnect,
    record_ticks_skipped, set_metrics_enabled, DURATION_BUCKETS, WAIT_BUCKETS,
};
#[cfg(feature = "prometheus")]
pub use prometheus::{install_prometheus, serve_prometheus, MetricsServer, PrometheusHandle};
pub use trace::{BadTraceParent, TraceParent};

/// Environment variable: the address a worker serves `/metrics` on (`0.0.0.0:9464`), feature
/// `prometheus`.
pub const METRICS_ADDR_ENV: &str = "TASKQ_METRICS_ADDR";

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// A `metrics` recorder that is not taskq's is installed already.
    #[error("another `metrics` recorder is installed in this process; call `taskq::telemetry::enable_metrics()` to feed it instead of installing taskq's Prometheus recorder")]
    RecorderInstalled,
    /// The metrics address could not be listened on.
    #[error("cannot serve /metrics on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
