//! How events are written in a stream entry (field `c`): one line per event, fields separated
//! by tabs, and what repeats from the line before left out. About a quarter of the bytes of a
//! JSON object per event, and written without a serializer: the log's cost on the server and
//! on the client goes mostly with its bytes.
//!
//! ```text
//!  kind \t id \t task \t attempt \t worker \t at \t runtime ms \t wait ms \t extra
//!
//!  kind     q enqueued, s started, p progress, r retried, o succeeded, f failed,
//!           c cancelled, d dead_lettered (a kind added later: its name)
//!  id       the task id (UUID, hyphenated)
//!  task     its name; `\=`: the same as the line before
//!  attempt  decimal
//!  worker   empty: none; `\=`: the same as the line before
//!  at       ms since the epoch; on later lines `+n` / `-n`: that far from the line before
//!  runtime, wait   decimal; empty: none
//!  extra    empty, or a JSON object of the rare fields (`failure`, `reason`, `detail`)
//!
//!  trailing empty fields are left out; `\`, tab and newline in a text are written `\\`,
//!  `\t`, `\n` (so `\=` never stands for a text)
//! ```
//!
//! The queue is not written: it is the stream's. Entries of the earlier encoding (field `e`,
//! one JSON object a line) still read.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use taskq::events::{Event, EventKind};
use taskq::{DeadLetterReason, FailureKind, TaskId, Timestamp};

/// The stream entry field of this encoding.
pub(super) const FIELD: &str = "c";

/// The field of the earlier encoding (one JSON object a line), still read.
pub(super) const JSON_FIELD: &str = "e";

/// Written for "the same as the line before".
const SAME: &[u8] = b"\\=";

/// What the next line of an entry is written against.
#[derive(Default)]
pub(super) struct LineState {
    /// Where the last task name written out in full is in the entry.
    task: Option<(usize, usize)>,
    worker: Option<Arc<str>>,
    at: Option<u64>,
}

/// The rare fields, as JSON.
#[derive(Serialize, Deserialize, Default)]
struct Extra<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<FailureKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<DeadLetterReason>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    detail: Option<Cow<'a, str>>,
}

/// Errors of encoding an event's rare fields.
pub(super) type EncodeError = serde_json::Error;

fn kind_code(kind: EventKind) -> Option<u8> {
    Some(match kind {
        EventKind::Enqueued => b'q',
        EventKind::Started => b's',
        EventKind::Progress => b'p',
        EventKind::Retried => b'r',
        EventKind::Succeeded => b'o',
        EventKind::Failed => b'f',
        EventKind::Cancelled => b'c',
        EventKind::DeadLettered => b'd',
        EventKind::TickSkipped => b'k',
        EventKind::BreakerOpened => b'b',
        EventKind::BreakerClosed => b'B',
        _ => return None,
    })
}

fn kind_of(code: &str) -> Option<EventKind> {
    Some(match code {
        "q" => EventKind::Enqueued,
        "s" => EventKind::Started,
        "p" => EventKind::Progress,
        "r" => EventKind::Retried,
        "o" => EventKind::Succeeded,
        "f" => EventKind::Failed,
        "c" => EventKind::Cancelled,
        "d" => EventKind::DeadLettered,
        "k" => EventKind::TickSkipped,
        "b" => EventKind::BreakerOpened,
        "B" => EventKind::BreakerClosed,
        name => EventKind::ALL.into_iter().find(|k| k.as_str() == name)?,
    })
}

fn needs_escape(b: u8) -> bool {
    matches!(b, b'\\' | b'\t' | b'\n')
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if !bytes.iter().copied().any(needs_escape) {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b => out.push(b),
        }
    }
}

fn unescape(field: &str) -> Cow<'_, str> {
    if !field.contains('\\') {
        return Cow::Borrowed(field);
    }
    let mut s = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            s.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => s.push('\t'),
            Some('n') => s.push('\n'),
            Some(other) => s.push(other),
            None => {}
        }
    }
    Cow::Owned(s)
}

fn push_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `event` to `out` as a line (without the newline that separates it from the line
/// before), written against `state`, which it then updates.
pub(super) fn push_line(
    out: &mut Vec<u8>,
    state: &mut LineState,
    event: &Event,
) -> Result<(), EncodeError> {
    let mark = out.len();
    match kind_code(event.kind) {
        Some(c) => out.push(c),
        None => out.extend_from_slice(event.kind.as_str().as_bytes()),
    }
    out.push(b'\t');
    let mut id = uuid::Uuid::encode_buffer();
    out.extend_from_slice(
        event
            .id
            .as_uuid()
            .hyphenated()
            .encode_lower(&mut id)
            .as_bytes(),
    );
    out.push(b'\t');
    let task = event.task.as_bytes();
    let same_task = state.task.is_some_and(|(at, len)| {
        !task.iter().copied().any(needs_escape) && out.get(at..at + len) == Some(task)
    });
    if same_task {
        out.extend_from_slice(SAME);
    } else {
        let at = out.len();
        push_text(out, &event.task);
        state.task = Some((at, out.len() - at));
    }
    out.push(b'\t');
    push_number(out, u64::from(event.attempt));
    out.push(b'\t');
    if let Some(w) = &event.worker {
        if state.worker.as_deref() == Some(&**w) {
            out.extend_from_slice(SAME);
        } else {
            push_text(out, w);
            state.worker = Some(w.clone());
        }
    }
    out.push(b'\t');
    let at = event.at.as_millis();
    match state.at {
        Some(prev) if at >= prev => {
            out.push(b'+');
            push_number(out, at - prev);
        }
        Some(prev) => {
            out.push(b'-');
            push_number(out, prev - at);
        }
        None => push_number(out, at),
    }
    state.at = Some(at);
    out.push(b'\t');
    if let Some(ms) = event.runtime_ms {
        push_number(out, ms);
    }
    out.push(b'\t');
    if let Some(ms) = event.wait_ms {
        push_number(out, ms);
    }
    out.push(b'\t');
    if event.failure.is_some() || event.reason.is_some() || event.detail.is_some() {
        let extra = Extra {
            failure: event.failure,
            reason: event.reason,
            detail: event.detail.as_deref().map(Cow::Borrowed),
        };
        let start = out.len();
        if let Err(e) = serde_json::to_writer(&mut *out, &extra) {
            out.truncate(mark);
            return Err(e);
        }
        // JSON escapes tabs and newlines itself; a backslash still needs its own.
        if out[start..].contains(&b'\\') {
            let json = out.split_off(start);
            push_text(out, std::str::from_utf8(&json).unwrap_or_default());
        }
    }
    while out.len() > mark && out.last() == Some(&b'\t') {
        out.pop();
    }
    Ok(())
}

/// Why a line does not decode.
#[derive(Debug, thiserror::Error)]
pub(super) enum DecodeError {
    /// A field is missing or not what it should be.
    #[error("event line: bad or missing field `{0}`")]
    Field(&'static str),
    /// The rare fields are not valid JSON.
    #[error("event line: extra fields: {0}")]
    Extra(#[from] serde_json::Error),
}

/// What the next line of an entry is read against.
#[derive(Default)]
pub(super) struct ReadState {
    task: Option<Cow<'static, str>>,
    worker: Option<Arc<str>>,
    at: Option<u64>,
}

fn number<T: std::str::FromStr>(
    field: Option<&str>,
    name: &'static str,
) -> Result<Option<T>, DecodeError> {
    match field {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| DecodeError::Field(name)),
    }
}

/// Reads one line of an entry of `queue`, against `state` (which it updates).
pub(super) fn read_line(
    line: &str,
    queue: &str,
    state: &mut ReadState,
) -> Result<Event, DecodeError> {
    let mut f = line.split('\t');
    let kind = f
        .next()
        .and_then(kind_of)
        .ok_or(DecodeError::Field("kind"))?;
    let id: TaskId = f
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(DecodeError::Field("id"))?;
    let task = match f.next() {
        Some("\\=") => state.task.clone().ok_or(DecodeError::Field("task"))?,
        Some(t) => {
            let t: Cow<'static, str> = Cow::Owned(unescape(t).into_owned());
            state.task = Some(t.clone());
            t
        }
        None => return Err(DecodeError::Field("task")),
    };
    let attempt = number::<u32>(f.next(), "attempt")?.unwrap_or(0);
    let worker = match f.next() {
        None | Some("") => None,
        Some("\\=") => Some(state.worker.clone().ok_or(DecodeError::Field("worker"))?),
        Some(w) => {
            let w: Arc<str> = Arc::from(&*unescape(w));
            state.worker = Some(w.clone());
            Some(w)
        }
    };
    let at = match f.next() {
        Some(s) if s.starts_with('+') || s.starts_with('-') => {
            let prev = state.at.ok_or(DecodeError::Field("at"))?;
            let d: u64 = s[1..].parse().map_err(|_| DecodeError::Field("at"))?;
            if s.starts_with('+') {
                prev.saturating_add(d)
            } else {
                prev.saturating_sub(d)
            }
        }
        other => number::<u64>(other, "at")?.ok_or(DecodeError::Field("at"))?,
    };
    state.at = Some(at);
    let runtime_ms = number::<u64>(f.next(), "runtime_ms")?;
    let wait_ms = number::<u64>(f.next(), "wait_ms")?;
    let extra = match f.next() {
        None | Some("") => None,
        Some(s) => Some(unescape(s)),
    };
    let mut event = Event::new(kind, id, task, queue.to_owned())
        .attempt(attempt)
        .worker(worker);
    event.at = Timestamp(at);
    event.runtime_ms = runtime_ms;
    event.wait_ms = wait_ms;
    if let Some(extra) = extra {
        let extra: Extra<'_> = serde_json::from_str(&extra)?;
        event.failure = extra.failure;
        event.reason = extra.reason;
        event.detail = extra.detail.map(Cow::into_owned);
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(events: &[Event]) -> String {
        let mut out = Vec::new();
        let mut state = LineState::default();
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            push_line(&mut out, &mut state, e).expect("encode");
        }
        String::from_utf8(out).expect("utf-8")
    }

    fn read(text: &str, queue: &str) -> Vec<Event> {
        let mut state = ReadState::default();
        text.split('\n')
            .map(|l| read_line(l, queue, &mut state).expect("decode"))
            .collect()
    }

    #[test]
    fn every_field_reads_back() {
        let id = TaskId::new();
        let w: Arc<str> = Arc::from("host-1\tweird\\name");
        let mut first = Event::new(EventKind::Enqueued, id, "tasks.add", "q");
        first.at = Timestamp(1_700_000_000_000);
        let mut started = Event::new(EventKind::Started, id, "tasks.add", "q")
            .attempt(1)
            .worker(Some(w.clone()))
            .wait_ms(3);
        started.at = Timestamp(1_700_000_000_005);
        let mut failed = Event::new(EventKind::Failed, id, "tasks.add", "q")
            .attempt(1)
            .worker(Some(w.clone()))
            .runtime_ms(12)
            .failure(FailureKind::Error, "bad\tinput\nline two \\ \"quoted\"");
        failed.at = Timestamp(1_699_999_999_990);
        let mut dead = Event::new(EventKind::DeadLettered, TaskId::new(), "other\ntask", "q")
            .reason(DeadLetterReason::AttemptsExhausted)
            .detail("{\"json\":true}");
        dead.at = Timestamp(1_700_000_000_100);
        let events = vec![first, started, failed, dead];
        let text = entry(&events);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert_eq!(read(&text, "q"), events);
    }

    #[test]
    fn repeats_are_left_out() {
        let id = TaskId::new();
        let w: Arc<str> = Arc::from("worker-7");
        let mut events = Vec::new();
        for kind in [EventKind::Started, EventKind::Succeeded] {
            let mut e = Event::new(kind, id, "bench.noop", "bench")
                .attempt(1)
                .worker(Some(w.clone()));
            e.at = Timestamp(1_700_000_000_000);
            events.push(e);
        }
        let text = entry(&events);
        let second = text.lines().nth(1).expect("two lines");
        assert_eq!(second, format!("o\t{id}\t\\=\t1\t\\=\t+0"));
        assert_eq!(read(&text, "bench"), events);
    }

    #[test]
    fn a_bad_line_is_an_error() {
        let mut state = ReadState::default();
        assert!(read_line("x\tnot-an-id", "q", &mut state).is_err());
        assert!(read_line("s\t\\=", "q", &mut state).is_err());
    }
}
