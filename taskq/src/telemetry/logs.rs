//! The worker's log subscriber: human-readable lines, or one flat JSON object per line
//! (`TASKQ_LOG=json`), to standard error, filtered by `RUST_LOG` (`info` unless set).
//!
//! A JSON line holds the time, level and message, then every field of the spans it is in (the
//! run span gives `task_id`, `task`, `queue`, `attempt`, `worker_id` and, when there is one,
//! `trace_id`), then the event's own fields, then its target:
//!
//! ```text
//! {"timestamp":"2026-12-03T09:35:23.123456Z","level":"INFO","message":"task succeeded","attempt":1,
//!  "duration_ms":3,"outcome":"succeeded","queue":"emails","task":"app::send_email",
//!  "task_id":"67e55044-10b1-426f-9247-bb680e5fe0c8","worker_id":"host-4242-1a2b","target":"taskq::worker::runner"}
//! ```

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Environment variable: `json` for one JSON object per log line, `text` (the default) for
/// human-readable lines.
pub const LOG_ENV: &str = "TASKQ_LOG";

/// How a worker's log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines (`tracing-subscriber`'s default format).
    #[default]
    Text,
    /// One JSON object per line, the fields of the spans it is in flattened into it.
    Json,
}

/// A `TASKQ_LOG` value that is not a log format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a log format: use `json` or `text`")]
pub struct BadLogFormat(String);

impl FromStr for LogFormat {
    type Err = BadLogFormat;

    /// `json`, or `text` (also `human`, `pretty`, `plain`), in any case.
    ///
    /// ```
    /// use taskq::telemetry::LogFormat;
    /// assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
    /// assert_eq!("text".parse::<LogFormat>().unwrap(), LogFormat::Text);
    /// assert!("yaml".parse::<LogFormat>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "text" | "human" | "pretty" | "plain" | "" => Ok(LogFormat::Text),
            _ => Err(BadLogFormat(s.to_owned())),
        }
    }
}

/// Installs a global `tracing` subscriber writing `format` to standard error, filtered by
/// `RUST_LOG` (targets and levels such as `info,taskq=debug`; `info` when unset or
/// unreadable), unless the program has installed one already. Returns whether it installed
/// one. [`worker::run`](crate::worker::run) calls it with `TASKQ_LOG`'s format.
///
/// ```
/// use taskq::telemetry::{init_logs, LogFormat};
/// assert!(init_logs(LogFormat::Json)); // the first subscriber of this program
/// assert!(!init_logs(LogFormat::Text)); // one is installed: left alone
/// tracing::info!(answer = 42, "hello"); // {"timestamp":"...","level":"INFO","message":"hello","answer":42,...}
/// ```
pub fn init_logs(format: LogFormat) -> bool {
    if tracing::dispatcher::has_been_set() {
        return false;
    }
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let installed = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colours for a terminal only, never in a file or a log collector.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .fmt_fields(JsonFields::new())
                    .event_format(FlatJson)
                    .with_filter(filter),
            )
            .try_init(),
    };
    installed.is_ok()
}

/// The JSON event format: one object per line, span fields flattened (inner spans win), then the
/// event's fields.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // With `JsonFields`, a span's fields are stored as a JSON object.
                if let Some(stored) = extensions.get::<FormattedFields<N>>() {
                    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&stored.fields) {
                        fields.extend(map);
                    }
                }
            }
        }
        let mut visitor = Fields {
            message: None,
            fields: &mut fields,
        };
        event.record(&mut visitor);
        let message = visitor.message.take().unwrap_or_default();
        let meta = event.metadata();

        let head = [
            ("timestamp", Value::String(timestamp)),
            ("level", Value::String(meta.level().to_string())),
            ("message", Value::String(message)),
        ];
        let mut out = String::with_capacity(256);
        // Time, level and message first, then the fields (a `Map` keeps its keys sorted).
        out.push('{');
        let mut first = true;
        for (k, v) in &head {
            push_pair(&mut out, &mut first, k, v);
        }
        for (k, v) in &fields {
            if !matches!(k.as_str(), "timestamp" | "level" | "message" | "target") {
                push_pair(&mut out, &mut first, k, v);
            }
        }
        push_pair(
            &mut out,
            &mut first,
            "target",
            &Value::String(meta.target().to_owned()),
        );
        out.push('}');
        writeln!(writer, "{out}")
    }
}

fn push_pair(out: &mut String, first: &mut bool, key: &str, value: &Value) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push_str(&Value::String(key.to_owned()).to_string());
    out.push(':');
    out.push_str(&value.to_string());
}

/// Collects an event's fields as JSON values.
struct Fields<'a> {
    message: Option<String>,
    fields: &'a mut Map<String, Value>,
}

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_the_span_fields_flat() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .fmt_fields(JsonFields::new())
                .event_format(FlatJson),
        );
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("outer", queue = "q", attempt = 1u32);
            let _o = outer.enter();
            let inner = tracing::info_span!(
                "task",
                task_id = "id-1",
                attempt = 2u32,
                trace_id = tracing::field::Empty
            );
            let _i = inner.enter();
            inner.record("trace_id", "abc");
            tracing::warn!(duration_ms = 5u64, ok = true, "quote \" done");
        });
        let text = String::from_utf8(buffer.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        let line: Value = serde_json::from_str(text.trim()).expect("one JSON object");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "quote \" done");
        assert_eq!(line["queue"], "q");
        assert_eq!(line["task_id"], "id-1");
        assert_eq!(line["attempt"], 2, "the inner span wins: {text}");
        assert_eq!(
            line["trace_id"], "abc",
            "fields recorded later count: {text}"
        );
        assert_eq!(line["duration_ms"], 5);
        assert_eq!(line["ok"], true);
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(
            text.starts_with("{\"timestamp\":"),
            "time, level and message first: {text}"
        );
    }
}
