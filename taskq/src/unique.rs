//! Unique tasks: a second enqueue of the same key, while the first task still lives, returns
//! the first task's handle instead of enqueuing again.
//!
//! A task is unique when its `#[task(unique_for = "10m")]` says so, or when a call sets
//! [`Call::unique_key`](crate::Call::unique_key) or [`Call::unique_for`](crate::Call::unique_for).
//!
//! - **The key** is the task's name and either the call's explicit key or the task's arguments
//!   as canonical JSON (object keys sorted, so a map field hashes the same whatever its order),
//!   hashed to a UUID v5 (SHA-1 over a fixed namespace: the same digest on every machine and
//!   release, unlike std's randomly seeded `SipHash`). Keys are per queue.
//! - **Which states keep it**: queued, delayed (countdown, eta, retry backoff), running,
//!   retrying. **Any end releases it**: success, final failure (the dead letter of the last
//!   attempt), a poison message, revocation, purge, expiry. It is released in the same atomic
//!   step as the task's own change of state (the same Lua script on Redis, the same lock in
//!   memory), never after.
//! - **The window**: `unique_for` is a safety net, a TTL on the key counted from the later of
//!   now and the task's due time, so that a key whose task vanished (a bug, a flushed database)
//!   does not block its work forever. A task that lives longer than its window (retries of hours
//!   with a `unique_for` of minutes) loses its key: as with Sidekiq, uniqueness is a promise
//!   for the window, choose it longer than the task's life.
//! - **What the caller learns**: the handle of the existing task, and
//!   [`AsyncResult::enqueued`](crate::AsyncResult::enqueued) says [`Enqueued::New`] or
//!   [`Enqueued::Existing`]; `add(2, 3).delay().await?` works as for any task.
//!
//! ```
//! #[taskq::task(unique_for = "10m")]
//! async fn rebuild_index(site: u32) {}
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), taskq::Error> {
//! use taskq::unique::Enqueued;
//! let client = taskq::Client::memory();
//! let first = rebuild_index(7).delay_on(&client).await?;
//! let again = rebuild_index(7).delay_on(&client).await?;
//! assert_eq!(first.enqueued(), Enqueued::New);
//! assert_eq!(again.enqueued(), Enqueued::Existing);
//! assert_eq!(again.id(), first.id());
//! // Another argument is another key.
//! assert_eq!(rebuild_index(8).delay_on(&client).await?.enqueued(), Enqueued::New);
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use serde_json::Value;

use crate::message::{Payload, TaskId};

/// How long a key is held when a call sets [`Call::unique_key`](crate::Call::unique_key) on a
/// task whose `#[task]` names no `unique_for`: one hour.
pub const DEFAULT_UNIQUE_FOR: Duration = Duration::from_secs(60 * 60);

/// The namespace of unique-key digests (a fixed UUID, so digests never change).
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x7461_736b_7175_6e69_7175_6500_0000_0001);

/// Whether a send enqueued a new task or found one holding its unique key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Enqueued {
    /// The task was enqueued (every send of a task that is not unique).
    #[default]
    New,
    /// A live task held the key: nothing was enqueued, the handle is that task's.
    Existing,
}

/// What [`Backend::publish_unique`](crate::backend::Backend::publish_unique) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UniqueOutcome {
    /// The key was free: the message is published and holds it.
    New,
    /// This task holds the key; nothing was published.
    Existing(TaskId),
}

/// The key a unique call is deduplicated by, and how long it may be held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniqueKey {
    /// The digest the backend stores (32 lowercase hex digits).
    pub digest: String,
    /// The safety-net lifetime of the key.
    pub ttl: Duration,
}

impl UniqueKey {
    /// The key of task `task` called with `key` (the call's explicit key) or, without one, with
    /// arguments `args`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskq::unique::UniqueKey;
    /// let a = taskq::Payload::encode(&serde_json::json!({"x": 1, "y": 2})).unwrap();
    /// let b = taskq::Payload::from_json(r#"{"y":2,"x":1}"#.to_owned()).unwrap();
    /// let ttl = Duration::from_secs(60);
    /// // The same arguments in another order: the same key.
    /// assert_eq!(UniqueKey::new("t", None, &a, ttl), UniqueKey::new("t", None, &b, ttl));
    /// // Another task: another key.
    /// assert_ne!(UniqueKey::new("t", None, &a, ttl), UniqueKey::new("u", None, &a, ttl));
    /// // An explicit key ignores the arguments.
    /// assert_eq!(UniqueKey::new("t", Some("k"), &a, ttl), UniqueKey::new("t", Some("k"), &b, ttl));
    /// ```
    pub fn new(task: &str, key: Option<&str>, args: &Payload, ttl: Duration) -> Self {
        let mut text = String::with_capacity(task.len() + args.as_str().len() + 8);
        text.push_str(task);
        text.push('\0');
        match key {
            Some(k) => {
                text.push_str("key\0");
                text.push_str(k);
            }
            None => {
                text.push_str("args\0");
                canonical_json(args, &mut text);
            }
        }
        let digest = uuid::Uuid::new_v5(&NAMESPACE, text.as_bytes())
            .simple()
            .to_string();
        Self { digest, ttl }
    }
}

/// `args` with every object's keys sorted (and no whitespace): the same text for the same
/// value however it was written. Text that is not JSON (it cannot be: a `Payload` is checked)
/// would be taken as is.
fn canonical_json(args: &Payload, out: &mut String) {
    match serde_json::from_str::<Value>(args.as_str()) {
        Ok(v) => write_sorted(&v, out),
        Err(_) => out.push_str(args.as_str()),
    }
}

fn write_sorted(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_sorted(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_stable_across_releases() {
        // Pinned: a change here would let duplicates through during a rolling upgrade.
        let args = Payload::encode(&(2, 3)).unwrap();
        let k = UniqueKey::new("add", None, &args, Duration::from_secs(1));
        assert_eq!(k.digest.len(), 32);
        assert_eq!(
            k.digest,
            UniqueKey::new("add", None, &args, Duration::from_secs(1)).digest
        );
        let nested = Payload::from_json(r#"{"b":[{"d":1,"c":2}],"a":null}"#.into()).unwrap();
        let mut s = String::new();
        canonical_json(&nested, &mut s);
        assert_eq!(s, r#"{"a":null,"b":[{"c":2,"d":1}]}"#);
    }
}
