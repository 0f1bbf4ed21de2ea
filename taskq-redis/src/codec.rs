//! How messages, results, notifications and dead letters are written in Redis.

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use taskq::{
    DeadLetter, DeadLetterReason, Envelope, Outcome, Payload, TaskFailure, TaskId, Timestamp,
};

/// The stored form of a message: `priority|reply channel|envelope JSON`. The header lets the
/// scripts route a message and tell its waiters without decoding the JSON.
pub(crate) fn encode_message(env: &Envelope) -> String {
    let chan = env
        .reply_to
        .as_deref()
        .filter(|c| !c.contains('|') && !c.contains(char::is_whitespace))
        .unwrap_or("");
    // The header, then the JSON written straight after it: one buffer, no copy.
    let mut out = Vec::with_capacity(320 + chan.len() + env.args.as_str().len());
    out.push(b'0' + env.priority.min(taskq::MAX_PRIORITY));
    out.push(b'|');
    out.extend_from_slice(chan.as_bytes());
    out.push(b'|');
    // Writing to a `Vec` cannot fail.
    let _ = env.write_json(&mut out);
    // Both parts are UTF-8 (a `&str` and JSON built of `&str`s), so this never replaces anything.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A task id as text, kept inline (no allocation per id).
#[derive(Clone, Copy)]
pub(crate) struct IdText([u8; 36]);

impl IdText {
    pub(crate) fn new(id: TaskId) -> Self {
        let mut buf = [0u8; 36];
        id.as_uuid().hyphenated().encode_lower(&mut buf);
        Self(buf)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Hex digits and hyphens only.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl redis::ToRedisArgs for IdText {
    fn write_redis_args<W: ?Sized + redis::RedisWrite>(&self, out: &mut W) {
        out.write_arg(&self.0);
    }
}

/// The header of a stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub(crate) priority: u8,
    pub(crate) json: &'a str,
}

/// Splits a stored message; `None` if it is not one.
pub(crate) fn parse_message(blob: &str) -> Option<Header<'_>> {
    let mut parts = blob.splitn(3, '|');
    let priority = parts.next()?.parse::<u8>().ok().filter(|p| *p <= 9)?;
    parts.next()?;
    let json = parts.next()?;
    Some(Header { priority, json })
}

/// A stored result: the outcome, the last progress report, and what `inspect` tells of a
/// finished task (written by `About` in the backend's `values.rs`; absent from results stored
/// before they existed).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredResult {
    pub(crate) outcome: Outcome,
    #[serde(default)]
    pub(crate) progress: Option<Payload>,
    #[serde(default)]
    pub(crate) task: Option<String>,
    #[serde(default)]
    pub(crate) attempt: u32,
    #[serde(default)]
    pub(crate) started_at: Option<Timestamp>,
    #[serde(default)]
    pub(crate) finished_at: Option<Timestamp>,
    #[serde(default)]
    pub(crate) dead_reason: Option<DeadLetterReason>,
    /// The task's arguments, when its worker sent them with the completion.
    #[serde(default)]
    pub(crate) args: Option<Payload>,
}

/// One entry of a notification: `[{"id": .., "outcome": ..}, ...]`, or `{"id": ..,
/// "requeued": true}` when a dead letter went back to its queue: an outcome told earlier is no
/// longer the task's.
#[derive(Debug, Deserialize)]
pub(crate) struct Note<'a> {
    pub(crate) id: TaskId,
    #[serde(borrow, default)]
    pub(crate) outcome: Option<&'a RawValue>,
    #[serde(default)]
    pub(crate) requeued: bool,
}

/// The dead letter without its envelope and closing brace; the script appends the stored
/// envelope JSON, so the message is never decoded and re-encoded on the server.
pub(crate) fn dead_letter_head(
    id: TaskId,
    queue: &str,
    reason: DeadLetterReason,
    message: &str,
) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Head<'a> {
        id: TaskId,
        queue: &'a str,
        reason: DeadLetterReason,
        message: &'a str,
        at: Timestamp,
    }
    let mut json = serde_json::to_string(&Head {
        id,
        queue,
        reason,
        message,
        at: Timestamp::now(),
    })?;
    json.pop();
    Ok(json)
}

/// Reads one entry of a queue's dead-letter list: `D|attempt|dead letter JSON` for messages
/// dead-lettered by a worker, `R|at|id|raw` for garbage and undecodable messages. Anything else
/// is itself garbage and shown raw.
pub(crate) fn parse_dead(queue: &str, entry: &str) -> DeadLetter {
    if let Some(rest) = entry.strip_prefix("D|") {
        if let Some((attempt, json)) = rest.split_once('|') {
            if let Ok(mut letter) = serde_json::from_str::<DeadLetter>(json) {
                if let (Some(env), Ok(a)) = (letter.envelope.as_mut(), attempt.parse::<u32>()) {
                    env.attempt = a;
                }
                return letter;
            }
        }
    }
    let (at, id, raw) = entry
        .strip_prefix("R|")
        .and_then(|rest| {
            let mut parts = rest.splitn(3, '|');
            let at = parts.next()?.parse::<u64>().ok()?;
            let id = parts.next()?;
            let raw = parts.next()?;
            Some((Timestamp(at), id.parse::<TaskId>().ok(), raw))
        })
        .unwrap_or((Timestamp(0), None, entry));
    DeadLetter {
        id: id.unwrap_or_else(|| made_up_id(entry)),
        queue: queue.to_owned(),
        reason: DeadLetterReason::MalformedMessage,
        message: describe_malformed(raw),
        envelope: None,
        raw: Some(raw.to_owned()),
        at,
    }
}

/// Why `raw` is not a message.
pub(crate) fn describe_malformed(raw: &str) -> String {
    let json = parse_message(raw).map_or(raw, |h| h.json);
    match serde_json::from_str::<Envelope>(json) {
        Err(e) => format!("the message is not a taskq envelope: {e}"),
        Ok(_) => "the message was found in the queue without its stored envelope".to_owned(),
    }
}

/// A stable id for a malformed message that has none: derived from its bytes, so listing the
/// dead letters twice shows the same id.
fn made_up_id(entry: &str) -> TaskId {
    let mut halves = [0u64; 2];
    for (seed, half) in halves.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        entry.hash(&mut h);
        *half = h.finish();
    }
    let bits = (u128::from(halves[0]) << 64) | u128::from(halves[1]);
    TaskId::from(uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid())
}

/// The failure stored for a message that cannot be run.
pub(crate) fn malformed_failure(detail: &str) -> TaskFailure {
    TaskFailure::new(taskq::FailureKind::Rejected, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trip() {
        let mut env = Envelope::new("t", "q", Payload::encode(&(1, "a|b")).expect("encode"));
        env.priority = 7;
        env.reply_to = Some("taskq:reply:x".into());
        let blob = encode_message(&env);
        assert!(blob.starts_with("7|taskq:reply:x|{"));
        let h = parse_message(&blob).expect("header");
        assert_eq!(h.priority, 7);
        let back: Envelope = serde_json::from_str(h.json).expect("json");
        assert_eq!(back, env);
    }

    #[test]
    fn garbage_is_not_a_message() {
        assert!(parse_message("garbage").is_none());
        assert!(parse_message("12|c|{}").is_none());
        assert!(parse_message("x|c|{}").is_none());
    }

    #[test]
    fn dead_entries() {
        let g = parse_dead("q", "R|5|not-a-uuid-so-made-up|hello");
        assert_eq!(g.reason, DeadLetterReason::MalformedMessage);
        assert_eq!(g.raw.as_deref(), Some("hello"));
        assert_eq!(g.id, parse_dead("q", "R|5|not-a-uuid-so-made-up|hello").id);
        let junk = parse_dead("q", "junk");
        assert_eq!(junk.raw.as_deref(), Some("junk"));
    }
}
