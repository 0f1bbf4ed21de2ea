//! Connecting: [`RedisBackendBuilder`] (URL, key prefix, reconnection patience) and the
//! accessors of a connected [`RedisBackend`].

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskq::BackendError;

use super::events::EventBuffer;
use super::lookup::IdCache;
use super::publish::PublishQueue;
use super::{
    Inner, RedisBackend, DEFAULT_EVENT_LOG_ENTRIES, DEFAULT_PREFIX, DEFAULT_RECONNECT_TIMEOUT,
};
use crate::conn::{self, BACKEND};
use crate::keys;
use crate::notify::Notifier;

/// Configures and connects a [`RedisBackend`].
#[derive(Clone, Debug)]
#[must_use = "call `.connect().await`"]
pub struct RedisBackendBuilder {
    url: String,
    prefix: Option<String>,
    patience: Duration,
    event_cap: usize,
}

impl RedisBackendBuilder {
    /// Prefixes every key (default [`DEFAULT_PREFIX`]), so that two applications can share one
    /// Redis. The URL's `?prefix=` parameter sets it too; this call wins.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// How long a command keeps retrying while the connection is lost before it fails with
    /// [`BackendError::Unavailable`] (default 30 s).
    pub fn reconnect_timeout(mut self, timeout: Duration) -> Self {
        self.patience = timeout;
        self
    }

    /// How many entries each queue's event stream keeps (default
    /// [`DEFAULT_EVENT_LOG_ENTRIES`]); an entry holds the events of one write, up to 128, so a
    /// queue keeps at least that many events, and more when busy. The oldest go first
    /// (`XADD .. MAXLEN ~`, which trims whole stream nodes: a few more may stay).
    ///
    /// ```
    /// let builder = taskq_redis::RedisBackend::builder("redis://127.0.0.1/0").event_log_entries(50_000);
    /// # let _ = builder;
    /// ```
    pub fn event_log_entries(mut self, entries: usize) -> Self {
        self.event_cap = entries.max(1);
        self
    }

    /// Connects, and checks that the server is Redis 7.0 or newer.
    ///
    /// # Errors
    /// [`BackendError::InvalidUrl`] for a URL the `redis` crate does not accept (or a server
    /// too old); [`BackendError::Unavailable`], naming the URL without its password, when the
    /// server cannot be reached.
    pub async fn connect(self) -> Result<RedisBackend, BackendError> {
        let shown = conn::redact(&self.url);
        let (url, url_prefix) = split_prefix(&self.url);
        let prefix = self
            .prefix
            .or(url_prefix)
            .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        if prefix.is_empty() || prefix.contains(['{', '}']) {
            return Err(BackendError::InvalidUrl {
                backend: BACKEND,
                url: shown,
                detail: format!("the key prefix `{prefix}` must be non-empty, without braces"),
            });
        }
        let client = redis::Client::open(url.as_str()).map_err(|e| BackendError::InvalidUrl {
            backend: BACKEND,
            url: shown.clone(),
            detail: e.to_string(),
        })?;
        let shared = conn::Shared::connect(client.clone(), shown.clone(), self.patience).await?;
        let info: String = shared
            .run(|mut c| async move { redis::cmd("INFO").arg("server").query_async(&mut c).await })
            .await?;
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("0")
            .trim()
            .to_owned();
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major < 7 {
            return Err(BackendError::InvalidUrl {
                backend: BACKEND,
                url: shown,
                detail: format!(
                    "the server runs Redis {version}; taskq-redis needs Redis 7.0 or newer"
                ),
            });
        }
        // Outcomes of tasks found in no queue (`resolve`) live under a queue of their own, which
        // lookups by id search like any other.
        let queues_key = keys::queues_key(&prefix);
        shared
            .run(|mut c| {
                let queues_key = queues_key.clone();
                async move {
                    redis::cmd("SADD")
                        .arg(queues_key)
                        .arg(keys::RESOLVED_QUEUE)
                        .query_async::<i64>(&mut c)
                        .await
                }
            })
            .await?;
        let channel = keys::reply_channel(&prefix);
        Ok(RedisBackend {
            inner: Arc::new(Inner {
                notifier: Notifier::new(client.clone(), channel),
                client,
                shared,
                prefix,
                blocking: tokio::sync::Mutex::new(None),
                known_queues: Mutex::new(HashSet::new()),
                ids: Mutex::new(IdCache::default()),
                publisher: Mutex::new(PublishQueue::default()),
                timers_checked: Mutex::new(None),
                events: Mutex::new(EventBuffer::default()),
                buffered: AtomicUsize::new(0),
                event_cap: self.event_cap,
                send_gate: Mutex::new(()),
                event_readers: Mutex::new(Vec::new()),
            }),
        })
    }
}

/// Takes `prefix=...` out of the URL's query.
fn split_prefix(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut prefix = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("prefix=") {
            Some(p) => {
                prefix = Some(p.to_owned());
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    if rest.is_empty() {
        (base.to_owned(), prefix)
    } else {
        (format!("{base}?{}", rest.join("&")), prefix)
    }
}

impl RedisBackend {
    /// A builder for the server at `url` (`redis://[:password@]host[:port][/db][?prefix=name]`).
    pub fn builder(url: impl Into<String>) -> RedisBackendBuilder {
        RedisBackendBuilder {
            url: url.into(),
            prefix: None,
            patience: DEFAULT_RECONNECT_TIMEOUT,
            event_cap: DEFAULT_EVENT_LOG_ENTRIES,
        }
    }

    /// Connects to `url` with the defaults.
    ///
    /// # Errors
    /// As [`RedisBackendBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        Self::builder(url).connect().await
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The channel this instance's waiters are told on; stamped into the `reply_to` of every
    /// message it publishes without one whose result is kept.
    pub fn reply_channel(&self) -> &str {
        self.inner.notifier.channel()
    }

    /// The hash tag every key of `queue` starts with (`{prefix:queue}`): for inspecting a
    /// queue with `redis-cli`.
    pub fn queue_tag(&self, queue: &str) -> String {
        format!("{{{}:{queue}}}", self.inner.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_comes_out_of_the_query() {
        assert_eq!(
            split_prefix("redis://h:1/0?prefix=app"),
            ("redis://h:1/0".to_owned(), Some("app".to_owned()))
        );
        assert_eq!(
            split_prefix("redis://h:1/0?protocol=resp3&prefix=app"),
            (
                "redis://h:1/0?protocol=resp3".to_owned(),
                Some("app".to_owned())
            )
        );
        assert_eq!(
            split_prefix("redis://h:1/0"),
            ("redis://h:1/0".to_owned(), None)
        );
    }
}
