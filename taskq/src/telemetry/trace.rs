//! W3C trace context in messages: the `traceparent` of the span that sent a task travels in its
//! envelope; the worker's run span continues that trace.
//!
//! - First attempt: the run span is a **child** of the producer's span (one connected trace).
//! - Retries (and redeliveries): the run span starts a **new trace** with a **link** to the
//!   producer's span, so a retry hours later neither stretches the original trace nor inherits
//!   its sampling decision.
//!
//! The parent and the link need feature `otel` and a `tracing-opentelemetry` layer in the
//! program's subscriber. Without them the message still carries a `traceparent` it was given,
//! and the run span's `trace_id` field shows the producer's trace id, so logs can be joined to
//! traces either way.

use std::fmt;
use std::str::FromStr;

/// A W3C `traceparent` (version `00`): trace id, parent span id and flags.
///
/// ```
/// use taskq::telemetry::TraceParent;
/// let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let tp: TraceParent = text.parse().unwrap();
/// assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(tp.sampled());
/// assert_eq!(tp.to_string(), text);
/// assert!("00-00000000000000000000000000000000-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id (16 bytes, not all zero).
    pub trace_id: [u8; 16],
    /// The id of the span that sent the message (8 bytes, not all zero).
    pub span_id: [u8; 8],
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

/// A text that is not a W3C `traceparent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero)")]
pub struct BadTraceParent(String);

impl TraceParent {
    /// Whether the sender sampled the trace.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id as 32 lowercase hex digits, as trace backends show it.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

impl FromStr for TraceParent {
    type Err = BadTraceParent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadTraceParent(s.to_owned());
        let mut parts = s.trim().split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        // Version 00 has exactly four parts; a later version may add more after these.
        if version == "ff"
            || unhex::<1>(version).is_none()
            || (version == "00" && parts.next().is_some())
        {
            return Err(bad());
        }
        let trace_id = unhex::<16>(trace)
            .filter(|t| t != &[0; 16])
            .ok_or_else(bad)?;
        let span_id = unhex::<8>(span).filter(|t| t != &[0; 8]).ok_or_else(bad)?;
        let [flags] = unhex::<1>(flags).ok_or_else(bad)?;
        Ok(Self {
            trace_id,
            span_id,
            flags,
        })
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.span_id),
            self.flags
        )
    }
}

/// Joins a task's run span to the trace its message names, and records the run's `trace_id`.
pub(crate) fn attach(span: &tracing::Span, env: &crate::message::Envelope) {
    let parent = env
        .traceparent
        .as_deref()
        .and_then(|t| t.parse::<TraceParent>().ok());
    #[cfg(feature = "otel")]
    {
        if otel::attach(span, parent.as_ref(), env.attempt) {
            return;
        }
    }
    if let Some(parent) = parent {
        span.record("trace_id", tracing::field::display(parent.trace_id_hex()));
    }
}

/// Stamps the current span's trace context on messages that carry none (a caller's own value
/// wins).
#[cfg(feature = "otel")]
pub(crate) fn inject(envs: &mut [crate::message::Envelope]) {
    if envs.iter().all(|e| e.traceparent.is_some()) {
        return;
    }
    let Some(current) = otel::current() else {
        return;
    };
    let text = current.to_string();
    for env in envs {
        if env.traceparent.is_none() {
            env.traceparent = Some(text.clone());
        }
    }
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::TraceParent;

    /// The trace context of the current `tracing` span, or else of OpenTelemetry's current
    /// context.
    pub(super) fn current() -> Option<TraceParent> {
        let from_span = tracing::Span::current().context();
        let sc = from_span.span().span_context().clone();
        let sc = if sc.is_valid() {
            sc
        } else {
            opentelemetry::Context::current()
                .span()
                .span_context()
                .clone()
        };
        sc.is_valid().then(|| TraceParent {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            flags: sc.trace_flags().to_u8(),
        })
    }

    /// Parent (first attempt) or link (retries); then the span's own trace id. `false` when
    /// there is no OpenTelemetry layer to do it.
    pub(super) fn attach(span: &tracing::Span, parent: Option<&TraceParent>, attempt: u32) -> bool {
        if let Some(p) = parent {
            let remote = SpanContext::new(
                TraceId::from_bytes(p.trace_id),
                SpanId::from_bytes(p.span_id),
                TraceFlags::new(p.flags),
                true,
                TraceState::default(),
            );
            if attempt <= 1 {
                let cx = opentelemetry::Context::new().with_remote_span_context(remote);
                if span.set_parent(cx).is_err() {
                    return false;
                }
            } else {
                span.add_link(remote);
            }
        }
        let cx = span.context();
        let own = cx.span().span_context().clone();
        if !own.is_valid() {
            return false;
        }
        span.record("trace_id", tracing::field::display(own.trace_id()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let tp: TraceParent = ok.parse().expect("valid");
        assert!(!tp.sampled());
        assert_eq!(tp.to_string(), ok);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(bad.parse::<TraceParent>().is_err(), "{bad}");
        }
        // A later version may append fields.
        assert!(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz"
                .parse::<TraceParent>()
                .is_ok()
        );
    }
}
