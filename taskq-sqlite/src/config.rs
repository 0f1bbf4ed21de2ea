//! Where the database is and how it is opened: parsed from a `sqlite://` URL or built by hand.

use std::path::PathBuf;
use std::time::Duration;

/// How hard each commit is pushed to disk (`PRAGMA synchronous`, in WAL mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Every commit is synced to disk: nothing committed is lost, even on power loss. With
    /// group commit one sync covers a whole batch of operations, so it costs little per task.
    #[default]
    Full,
    /// The WAL is synced only at checkpoints: nothing is lost when the process crashes, but
    /// the last commits may be lost on power loss or an OS crash.
    Normal,
}

impl Synchronous {
    /// The value `PRAGMA synchronous` reads back.
    pub(crate) fn pragma_value(self) -> i64 {
        match self {
            Synchronous::Full => 2,
            Synchronous::Normal => 1,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// The default time a connection waits for another process's write lock.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The default interval at which a process checks whether *another* process changed the file
/// (`PRAGMA data_version`). Within one process nothing polls: wake-ups are in memory.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_millis(20);

/// How to open a database: parsed from a URL with [`SqliteConfig::from_url`], or built with
/// [`SqliteConfig::new`].
///
/// ```
/// use std::time::Duration;
/// use taskq_sqlite::{SqliteConfig, Synchronous};
///
/// let c = SqliteConfig::from_url("sqlite:///var/lib/app/tasks.db?synchronous=normal&busy_timeout_ms=2000")?;
/// assert_eq!(c.path, std::path::PathBuf::from("/var/lib/app/tasks.db"));
/// assert_eq!(c.synchronous, Synchronous::Normal);
/// assert_eq!(c.busy_timeout, Duration::from_secs(2));
///
/// let relative = SqliteConfig::from_url("sqlite://tasks.db")?;
/// assert_eq!(relative.path, std::path::PathBuf::from("tasks.db"));
///
/// assert!(SqliteConfig::from_url("sqlite://").is_err());
/// assert!(SqliteConfig::from_url("sqlite:///x.db?synchronous=sometimes").is_err());
/// # Ok::<(), taskq_sqlite::UrlError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteConfig {
    /// The database file (created if missing, with its directory's permissions).
    pub path: PathBuf,
    /// `PRAGMA synchronous` on every connection.
    pub synchronous: Synchronous,
    /// `PRAGMA busy_timeout` on every connection: how long to wait for another process's write.
    pub busy_timeout: Duration,
    /// How often to check for other processes' commits (`PRAGMA data_version`).
    pub watch_interval: Duration,
    /// How many read connections to keep.
    pub readers: usize,
}

impl SqliteConfig {
    /// The defaults for the file at `path`: `synchronous = FULL`, a 5 s busy timeout, a
    /// 20 ms check for other processes, 4 read connections.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::Full,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            watch_interval: DEFAULT_WATCH_INTERVAL,
            readers: 4,
        }
    }

    /// Parses `sqlite:///absolute/path.db` or `sqlite://relative/path.db`, with optional query
    /// parameters `synchronous=full|normal`, `busy_timeout_ms=N`, `watch_ms=N` and `readers=N`.
    ///
    /// # Errors
    /// [`UrlError`] naming what is wrong: another scheme, no path, an in-memory database
    /// (several connections must share the file), an unknown or bad parameter.
    pub fn from_url(url: &str) -> Result<Self, UrlError> {
        let rest = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| UrlError::Scheme {
                url: url.to_owned(),
            })?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(UrlError::NoPath {
                url: url.to_owned(),
            });
        }
        if path == ":memory:" || path.starts_with("file::memory:") {
            return Err(UrlError::InMemory {
                url: url.to_owned(),
            });
        }
        let mut config = Self::new(path);
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let bad = || UrlError::BadValue {
                url: url.to_owned(),
                key: key.to_owned(),
                value: value.to_owned(),
            };
            match key {
                "synchronous" => {
                    config.synchronous = match value.to_ascii_lowercase().as_str() {
                        "full" => Synchronous::Full,
                        "normal" => Synchronous::Normal,
                        _ => return Err(bad()),
                    }
                }
                "busy_timeout_ms" => {
                    config.busy_timeout = Duration::from_millis(value.parse().map_err(|_| bad())?)
                }
                "watch_ms" => {
                    let ms: u64 = value.parse().map_err(|_| bad())?;
                    if ms == 0 {
                        return Err(bad());
                    }
                    config.watch_interval = Duration::from_millis(ms);
                }
                "readers" => {
                    let n: usize = value.parse().map_err(|_| bad())?;
                    if n == 0 {
                        return Err(bad());
                    }
                    config.readers = n;
                }
                _ => {
                    return Err(UrlError::UnknownParameter {
                        url: url.to_owned(),
                        key: key.to_owned(),
                    })
                }
            }
        }
        Ok(config)
    }
}

/// A `sqlite://` URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a `sqlite://` URL.
    #[error("`{url}` is not a sqlite URL: write `sqlite:///absolute/path.db` or `sqlite://relative/path.db`")]
    Scheme {
        /// The URL as given.
        url: String,
    },
    /// No file named.
    #[error("`{url}` names no database file: write `sqlite:///absolute/path.db` or `sqlite://relative/path.db`")]
    NoPath {
        /// The URL as given.
        url: String,
    },
    /// An in-memory database.
    #[error("`{url}`: an in-memory SQLite database is not supported (the writer and the readers must share one file); use `memory://` for an in-memory queue")]
    InMemory {
        /// The URL as given.
        url: String,
    },
    /// A query parameter this backend does not know.
    #[error("`{url}`: unknown parameter `{key}` (known: synchronous, busy_timeout_ms, watch_ms, readers)")]
    UnknownParameter {
        /// The URL as given.
        url: String,
        /// The parameter.
        key: String,
    },
    /// A parameter with a value that does not parse.
    #[error("`{url}`: `{key}={value}` is not valid (synchronous=full|normal, busy_timeout_ms=N, watch_ms=N > 0, readers=N > 0)")]
    BadValue {
        /// The URL as given.
        url: String,
        /// The parameter.
        key: String,
        /// Its value.
        value: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_and_mistakes_are_named() {
        let c = SqliteConfig::from_url("sqlite:///tmp/a.db?watch_ms=5&readers=2").expect("parse");
        assert_eq!(c.watch_interval, Duration::from_millis(5));
        assert_eq!(c.readers, 2);
        assert_eq!(c.synchronous, Synchronous::Full);
        let e = SqliteConfig::from_url("sqlite:///tmp/a.db?colour=red").expect_err("unknown");
        assert!(e.to_string().contains("unknown parameter `colour`"), "{e}");
        let e = SqliteConfig::from_url("redis://x").expect_err("scheme");
        assert!(matches!(e, UrlError::Scheme { .. }));
        let e = SqliteConfig::from_url("sqlite://:memory:").expect_err("memory");
        assert!(matches!(e, UrlError::InMemory { .. }));
        let e = SqliteConfig::from_url("sqlite:///a.db?readers=0").expect_err("zero");
        assert!(matches!(e, UrlError::BadValue { .. }));
    }
}
