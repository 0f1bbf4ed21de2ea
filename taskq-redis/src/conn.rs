//! Connections: one shared multiplexed connection that reconnects by itself, one dedicated
//! connection for blocking waits, and the retry policy that rides out a restart of Redis.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, ErrorKind, RedisError, ServerErrorKind};
use taskq::BackendError;
use tokio::time::Instant;

pub(crate) const BACKEND: &str = "redis";

/// Whether an error is about the connection (or a server still loading its data), so the
/// command may be tried again once the server is back.
pub(crate) fn is_transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
            )
        )
}

/// `url` with any password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

pub(crate) fn command_error(e: RedisError) -> BackendError {
    BackendError::Command {
        backend: BACKEND,
        source: Box::new(e),
    }
}

pub(crate) fn corrupt(key: impl Into<String>, detail: impl Into<String>) -> BackendError {
    BackendError::Corrupt {
        backend: BACKEND,
        key: key.into(),
        detail: detail.into(),
    }
}

/// The shared connection and how long to keep trying through a connection loss.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) manager: ConnectionManager,
    pub(crate) url: String,
    pub(crate) patience: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("url", &self.url).finish()
    }
}

pub(crate) fn unavailable(url: &str, e: RedisError) -> BackendError {
    BackendError::Unavailable {
        backend: BACKEND,
        url: url.to_owned(),
        source: Box::new(e),
    }
}

/// Exponential backoff with jitter between reconnection attempts: 20 ms doubling to 1 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    let exp = 20u64.saturating_mul(1u64 << failures.min(6)).min(1_000);
    Duration::from_millis(exp / 2 + fastrand::u64(0..=exp / 2))
}

impl Shared {
    pub(crate) async fn connect(
        client: redis::Client,
        url: String,
        patience: Duration,
    ) -> Result<Self, BackendError> {
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(15)));
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| unavailable(&url, e))?;
        Ok(Self {
            manager,
            url,
            patience,
        })
    }

    /// Runs `op` on the shared connection, again and again while the connection is down, for
    /// up to `patience`; then [`BackendError::Unavailable`].
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T, BackendError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let started = Instant::now();
        let mut failures = 0u32;
        loop {
            match op(self.manager.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) if is_transient(&e) => {
                    if started.elapsed() >= self.patience {
                        return Err(unavailable(&self.url, e));
                    }
                    failures = failures.saturating_add(1);
                    let pause = backoff(failures);
                    tracing::debug!(error = %e, retry_in = ?pause, "redis unavailable, retrying");
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(command_error(e)),
            }
        }
    }
}

/// Opens a connection for blocking commands: no response timeout (the wait is bounded by the
/// command itself).
pub(crate) async fn blocking_connection(
    client: &redis::Client,
) -> Result<MultiplexedConnection, RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("redis://:secret@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact("redis://me:secret@h:1/0"), "redis://me:***@h:1/0");
        assert_eq!(redact("redis://h:1/0"), "redis://h:1/0");
    }

    #[test]
    fn backoff_is_bounded() {
        for n in 0..50 {
            assert!(backoff(n) <= Duration::from_millis(1_000));
        }
    }
}
