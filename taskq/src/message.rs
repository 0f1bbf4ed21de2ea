//! What travels between producers, backends and workers: ids, envelopes, leases and outcomes.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::Error;

/// The unique id of one task (one enqueued message), a UUID like Celery's.
///
/// ```
/// let id = taskq::TaskId::new();
/// let parsed: taskq::TaskId = id.to_string().parse().unwrap();
/// assert_eq!(id, parsed);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(uuid::Uuid);

impl TaskId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl Default for TaskId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<uuid::Uuid> for TaskId {
    fn from(value: uuid::Uuid) -> Self {
        Self(value)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0.hyphenated())
    }
}

impl FromStr for TaskId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| Error::InvalidTaskId(s.to_owned()))
    }
}

/// A fast hasher for maps keyed by [`TaskId`] (random UUIDs) or by task names (fixed at compile
/// time): FxHash's multiply-rotate over the bytes, at a fraction of SipHash's cost. Not for keys
/// an attacker chooses freely.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
    }

    fn write_usize(&mut self, _len: usize) {
        // Only the length prefix of the id's bytes comes through here: always 16, no entropy.
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` keyed by [`TaskId`] with [`IdHasher`].
pub type IdMap<V> = std::collections::HashMap<TaskId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A point in time, in milliseconds since the Unix epoch (wall clock, so it means the same on
/// every machine of a fleet).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Now, by the system clock.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// This time plus `d`.
    pub fn after(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        )
    }

    /// How long from now until this time (zero if it has passed).
    pub fn remaining(self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(Self::now().0))
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> u64 {
        self.0
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let ms = t
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self(ms)
    }
}

/// A JSON document carried verbatim: a task's arguments, its result, a progress report.
///
/// It is kept as text so that a backend can store and forward it without decoding it, and
/// shared, so that a clone (a result handed to several waiters, a message a backend keeps while
/// a worker runs it) copies nothing.
///
/// ```
/// let p = taskq::Payload::encode(&(1, "two")).unwrap();
/// assert_eq!(p.as_str(), r#"[1,"two"]"#);
/// let back: (i32, String) = p.decode().unwrap();
/// assert_eq!(back, (1, "two".to_string()));
/// ```
#[derive(Clone)]
pub struct Payload(std::sync::Arc<RawValue>);

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(|b| Self(b.into()))
    }
}

impl Payload {
    /// Serializes `value` as JSON.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(|b| Self(b.into()))
    }

    /// Deserializes the JSON into `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// Checks that `json` is one valid JSON document and wraps it.
    pub fn from_json(json: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json).map(|b| Self(b.into()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// JSON `null`, the payload of a task that returns `()`.
    pub fn null() -> Self {
        // `null` is always valid JSON, so this cannot fail; keep a fallback anyway.
        RawValue::from_string("null".to_owned())
            .map(|b| Self(b.into()))
            .unwrap_or_else(|_| Self(RawValue::NULL.to_owned().into()))
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

/// Exponential backoff between attempts, with optional full jitter.
///
/// The delay before retry `n` (the first retry is `n = 1`) is `min(cap, base * 2^(n-1))`, and with
/// jitter a uniformly random duration between zero and that (AWS's "full jitter").
///
/// ```
/// use std::time::Duration;
/// let b = taskq::Backoff { base_ms: 100, cap_ms: 1_000, jitter: false };
/// assert_eq!(b.delay(1), Duration::from_millis(100));
/// assert_eq!(b.delay(3), Duration::from_millis(400));
/// assert_eq!(b.delay(10), Duration::from_millis(1_000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// The first retry's delay, in milliseconds.
    pub base_ms: u64,
    /// The longest delay, in milliseconds.
    pub cap_ms: u64,
    /// Whether to pick a random delay between zero and the exponential one.
    pub jitter: bool,
}

impl Backoff {
    /// One second, doubling, capped at ten minutes, with full jitter.
    pub const DEFAULT: Backoff = Backoff {
        base_ms: 1_000,
        cap_ms: 600_000,
        jitter: true,
    };

    /// The delay before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(63);
        let exp = self
            .base_ms
            .saturating_mul(1u64.checked_shl(shift).unwrap_or(u64::MAX));
        let ceiling = exp.min(self.cap_ms);
        let ms = if self.jitter {
            fastrand::u64(0..=ceiling)
        } else {
            ceiling
        };
        Duration::from_millis(ms)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One task message: everything a worker needs to run a task, and everything a backend needs to
/// route, delay, retry and expire it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct Envelope {
    /// The task's id.
    pub id: TaskId,
    /// The registered task name.
    pub task: String,
    /// The queue it is routed to.
    pub queue: String,
    /// The task's arguments (the serialized task struct).
    pub args: Payload,
    /// 0 to 9; higher runs first; FIFO within one priority.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Not before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<Timestamp>,
    /// Discard, as failed with [`FailureKind::Expired`], if not started by this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    /// How many times it has been delivered to a worker so far (0 before the first fetch).
    /// A backend increments it on every fetch; it is also the lease's fencing token.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u32,
    /// The most deliveries allowed; the next failure after this many dead-letters it.
    pub max_attempts: u32,
    /// The backoff between attempts.
    #[serde(default, skip_serializing_if = "Backoff::is_default")]
    pub backoff: Backoff,
    /// How long one attempt may run, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// How long the result is kept, in milliseconds; `None` stores no result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_ttl_ms: Option<u64>,
    /// The first task of the tree this one belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_id: Option<TaskId>,
    /// The task that enqueued this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<TaskId>,
    /// What to do with the result when this task succeeds (workflows); opaque to backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<Payload>,
    /// Where to announce the result (a backend-specific channel for the waiting client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// When the message was first enqueued.
    pub enqueued_at: Timestamp,
    /// The W3C trace context of the span that sent it (`00-<trace id>-<span id>-<flags>`), so
    /// the worker's run continues that trace (see [`crate::telemetry`]). Set by the client
    /// with feature `otel`; a value set by hand is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The fleet-wide limits the backend applies before a worker gets it (see
    /// [`crate::flow`]); filled in from the task's options when it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::flow::Gate>,
}

/// An id as a JSON string: a hyphenated UUID never needs escaping.
fn write_json_id<W: std::io::Write + ?Sized>(out: &mut W, id: TaskId) -> std::io::Result<()> {
    let mut buf = [0u8; 38];
    buf[0] = b'"';
    id.0.hyphenated().encode_lower(&mut buf[1..37]);
    buf[37] = b'"';
    out.write_all(&buf)
}

fn default_priority() -> u8 {
    crate::task::DEFAULT_PRIORITY
}

// Fields at their defaults are left out of the JSON (a smaller message to encode, store and
// move); `#[serde(default)]` reads them back.
fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Backoff {
    fn is_default(&self) -> bool {
        *self == Self::DEFAULT
    }
}

impl Envelope {
    /// A message for task `task` with the given arguments, default options, on queue `queue`.
    pub fn new(task: impl Into<String>, queue: impl Into<String>, args: Payload) -> Self {
        Self {
            id: TaskId::new(),
            task: task.into(),
            queue: queue.into(),
            args,
            priority: crate::task::DEFAULT_PRIORITY,
            eta: None,
            expires: None,
            attempt: 0,
            max_attempts: 1,
            backoff: Backoff::DEFAULT,
            timeout_ms: None,
            result_ttl_ms: Some(crate::task::DEFAULT_RESULT_TTL.as_millis() as u64),
            root_id: None,
            parent_id: None,
            continuation: None,
            reply_to: None,
            enqueued_at: Timestamp::now(),
            traceparent: None,
            gate: None,
        }
    }

    /// Writes the message as JSON: the same bytes as `serde_json::to_writer(out, self)`, but
    /// written field by field, so that field names, ids and numbers skip the string escaping
    /// and the generic serializer (a producer's batch spends about half the encoding time
    /// there). Reading it back is plain `serde_json`.
    ///
    /// ```
    /// let env = taskq::Envelope::new("add", "default", taskq::Payload::encode(&(2, 3)).unwrap());
    /// let mut fast = Vec::new();
    /// env.write_json(&mut fast).unwrap();
    /// assert_eq!(fast, serde_json::to_vec(&env).unwrap());
    /// ```
    ///
    /// # Errors
    /// Only the writer's own errors.
    pub fn write_json<W: std::io::Write + ?Sized>(&self, out: &mut W) -> std::io::Result<()> {
        // Exhaustive on purpose: a new field does not compile until it is written here too.
        let Envelope {
            id,
            task,
            queue,
            args,
            priority,
            eta,
            expires,
            attempt,
            max_attempts,
            backoff,
            timeout_ms,
            result_ttl_ms,
            root_id,
            parent_id,
            continuation,
            reply_to,
            enqueued_at,
            traceparent,
            gate,
        } = self;
        let mut num = itoa::Buffer::new();
        out.write_all(b"{\"id\":")?;
        write_json_id(out, *id)?;
        out.write_all(b",\"task\":")?;
        serde_json::to_writer(&mut *out, task)?;
        out.write_all(b",\"queue\":")?;
        serde_json::to_writer(&mut *out, queue)?;
        out.write_all(b",\"args\":")?;
        out.write_all(args.as_str().as_bytes())?;
        out.write_all(b",\"priority\":")?;
        out.write_all(num.format(*priority).as_bytes())?;
        if let Some(eta) = eta {
            out.write_all(b",\"eta\":")?;
            out.write_all(num.format(eta.0).as_bytes())?;
        }
        if let Some(expires) = expires {
            out.write_all(b",\"expires\":")?;
            out.write_all(num.format(expires.0).as_bytes())?;
        }
        if !is_zero(attempt) {
            out.write_all(b",\"attempt\":")?;
            out.write_all(num.format(*attempt).as_bytes())?;
        }
        out.write_all(b",\"max_attempts\":")?;
        out.write_all(num.format(*max_attempts).as_bytes())?;
        if !backoff.is_default() {
            out.write_all(b",\"backoff\":{\"base_ms\":")?;
            out.write_all(num.format(backoff.base_ms).as_bytes())?;
            out.write_all(b",\"cap_ms\":")?;
            out.write_all(num.format(backoff.cap_ms).as_bytes())?;
            out.write_all(if backoff.jitter {
                b",\"jitter\":true}"
            } else {
                b",\"jitter\":false}"
            })?;
        }
        if let Some(ms) = timeout_ms {
            out.write_all(b",\"timeout_ms\":")?;
            out.write_all(num.format(*ms).as_bytes())?;
        }
        if let Some(ms) = result_ttl_ms {
            out.write_all(b",\"result_ttl_ms\":")?;
            out.write_all(num.format(*ms).as_bytes())?;
        }
        if let Some(root) = root_id {
            out.write_all(b",\"root_id\":")?;
            write_json_id(out, *root)?;
        }
        if let Some(parent) = parent_id {
            out.write_all(b",\"parent_id\":")?;
            write_json_id(out, *parent)?;
        }
        if let Some(c) = continuation {
            out.write_all(b",\"continuation\":")?;
            out.write_all(c.as_str().as_bytes())?;
        }
        if let Some(r) = reply_to {
            out.write_all(b",\"reply_to\":")?;
            serde_json::to_writer(&mut *out, r)?;
        }
        out.write_all(b",\"enqueued_at\":")?;
        out.write_all(num.format(enqueued_at.0).as_bytes())?;
        if let Some(t) = traceparent {
            out.write_all(b",\"traceparent\":")?;
            serde_json::to_writer(&mut *out, t)?;
        }
        if let Some(g) = gate {
            out.write_all(b",\"gate\":")?;
            serde_json::to_writer(&mut *out, g)?;
        }
        out.write_all(b"}")
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }

    /// How long the result is kept, if it is kept.
    pub fn result_ttl(&self) -> Option<Duration> {
        self.result_ttl_ms.map(Duration::from_millis)
    }

    /// Whether the message expired before `now`.
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// The proof that a worker holds a task: the task id and the attempt number it was delivered
/// with. A backend accepts a completion, retry or extension only from the current lease, so a
/// worker whose lease expired (and whose task went to another worker) cannot overwrite the newer
/// delivery's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The task.
    pub id: TaskId,
    /// The queue it came from.
    pub queue: String,
    /// The attempt number this delivery carries (the fencing token).
    pub attempt: u32,
}

/// A task handed to a worker under a lease.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The message, with `attempt` already counting this delivery.
    pub envelope: Envelope,
    /// The lease to complete, retry, extend or release it with.
    pub lease: Lease,
}

impl Delivery {
    /// Builds the delivery of `envelope`, whose `attempt` already counts this delivery.
    pub fn new(envelope: Envelope) -> Self {
        let lease = Lease {
            id: envelope.id,
            queue: envelope.queue.clone(),
            attempt: envelope.attempt,
        };
        Self { envelope, lease }
    }
}

/// Why a task failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The task returned an error.
    Error,
    /// The task panicked.
    Panic,
    /// An attempt ran longer than the task's timeout.
    Timeout,
    /// The task was revoked.
    Cancelled,
    /// The task expired before it started.
    Expired,
    /// The message could not be run (unknown task, undecodable arguments); it is in the
    /// dead-letter queue.
    Rejected,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Error => "error",
            FailureKind::Panic => "panic",
            FailureKind::Timeout => "timeout",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Expired => "expired",
            FailureKind::Rejected => "rejected",
        })
    }
}

/// A task's failure, as stored and sent back to whoever awaits it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The error's message (its `Display`), or the panic message.
    pub message: String,
}

impl TaskFailure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It returned this value.
    Success(Payload),
    /// It failed for good.
    Failure(TaskFailure),
}

impl Outcome {
    /// The final state this outcome puts a task in.
    pub fn state(&self) -> crate::state::TaskState {
        use crate::state::TaskState;
        match self {
            Outcome::Success(_) => TaskState::Succeeded,
            Outcome::Failure(f) if f.kind == FailureKind::Cancelled => TaskState::Cancelled,
            Outcome::Failure(_) => TaskState::Failed,
        }
    }
}

/// Why a message is in the dead-letter queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// No task of that name is registered with the worker.
    UnknownTask,
    /// The arguments do not deserialize into the task's struct.
    UndecodableArguments,
    /// The message itself is not a valid envelope.
    MalformedMessage,
    /// The task failed on its last allowed attempt.
    AttemptsExhausted,
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeadLetterReason::UnknownTask => "unknown task",
            DeadLetterReason::UndecodableArguments => "undecodable arguments",
            DeadLetterReason::MalformedMessage => "malformed message",
            DeadLetterReason::AttemptsExhausted => "attempts exhausted",
        })
    }
}

/// A message in the dead-letter queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The id (for a malformed message, one made up by the backend).
    pub id: TaskId,
    /// The queue it came from.
    pub queue: String,
    /// Why it is here.
    pub reason: DeadLetterReason,
    /// The details: the error, the unknown name, the decoder's complaint.
    pub message: String,
    /// The envelope, when it could be decoded.
    pub envelope: Option<Envelope>,
    /// The raw message, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// When it was dead-lettered.
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_at_their_defaults_are_left_out_and_read_back() {
        let env = Envelope::new("t", "q", Payload::null());
        let json = serde_json::to_string(&env).expect("encode");
        assert!(!json.contains("\"attempt\""), "{json}");
        assert!(!json.contains("\"backoff\""), "{json}");
        assert_eq!(
            serde_json::from_str::<Envelope>(&json).expect("decode"),
            env
        );
        let mut retried = env.clone();
        retried.attempt = 2;
        retried.backoff = Backoff {
            base_ms: 5_000,
            cap_ms: 5_000,
            jitter: false,
        };
        let json = serde_json::to_string(&retried).expect("encode");
        assert!(json.contains("\"attempt\":2"), "{json}");
        assert_eq!(
            serde_json::from_str::<Envelope>(&json).expect("decode"),
            retried
        );
    }

    /// `write_json` writes exactly what serde does, for every combination of the optional
    /// fields and for strings that need escaping.
    #[test]
    fn write_json_matches_serde() {
        let args = Payload::encode(&("quote \" back \\ nl \n tab \t", 1.5, [1, 2])).expect("args");
        for mask in 0u32..(1 << 11) {
            let mut env = Envelope::new("t\"ask\u{1}é", "q\\ueue\u{7f}", args.clone());
            let on = |bit: u32| mask & (1 << bit) != 0;
            env.priority = if on(0) { 9 } else { 0 };
            env.eta = on(1).then_some(Timestamp(1_700_000_000_123));
            env.expires = on(2).then_some(Timestamp(u64::MAX));
            env.attempt = if on(3) { u32::MAX } else { 0 };
            if on(4) {
                env.backoff = Backoff {
                    base_ms: 0,
                    cap_ms: 7,
                    jitter: mask % 3 == 0,
                };
            }
            env.timeout_ms = on(5).then_some(30_000);
            env.result_ttl_ms = (!on(6)).then_some(0);
            env.root_id = on(7).then(TaskId::new);
            env.parent_id = on(8).then(TaskId::new);
            env.continuation = on(9).then(|| Payload::encode(&["next", "\u{2028}"]).expect("c"));
            env.reply_to = on(3).then(|| "taskq:reply:\"x\"".to_owned());
            env.traceparent = on(10)
                .then(|| "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
            let mut fast = Vec::new();
            env.write_json(&mut fast).expect("write");
            let slow = serde_json::to_vec(&env).expect("serde");
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow),
                "mask {mask:#b}"
            );
            assert_eq!(
                serde_json::from_slice::<Envelope>(&fast).expect("decode"),
                env
            );
        }
    }
}
