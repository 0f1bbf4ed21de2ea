//! The errors of the store, and how they reach taskq.

use std::path::PathBuf;
use std::sync::Arc;

use taskq::BackendError;

/// The backend's name in errors and logs.
pub(crate) const NAME: &str = "sqlite";

/// What went wrong inside the store.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite said no.
    #[error("{0}")]
    Sql(Arc<rusqlite::Error>),
    /// The database file could not be opened.
    #[error("cannot open `{}`: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// A pragma did not take effect (SQLite ignores pragmas it does not know, and some that
    /// it cannot apply): the connection is refused rather than run with other settings.
    #[error("PRAGMA {pragma} reads back `{got}` after setting `{wanted}`")]
    Pragma {
        /// The pragma.
        pragma: &'static str,
        /// What was set.
        wanted: String,
        /// What it reads back.
        got: String,
    },
    /// The file was written by a newer taskq-sqlite.
    #[error("the database is at schema version {found}, newer than this build knows ({known}); upgrade taskq-sqlite")]
    TooNew {
        /// The file's version.
        found: i64,
        /// The newest this build applies.
        known: i64,
    },
    /// A row does not have the shape this crate writes.
    #[error("corrupt data at `{key}`: {detail}")]
    Corrupt {
        /// Where.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// The writer thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Thread(#[source] Arc<std::io::Error>),
    /// An operation panicked on the writer thread (its changes were rolled back).
    #[error("a write operation panicked; its changes were rolled back")]
    Panicked,
    /// The writer thread is gone (the backend was dropped).
    #[error("the writer thread has stopped")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(Arc::new(e))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Thread(Arc::new(e))
    }
}

impl StoreError {
    /// A row whose column `what` of `key` does not decode.
    pub(crate) fn corrupt(key: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt {
            key: key.into(),
            detail: detail.to_string(),
        }
    }

    /// As taskq's error, for a database at `url`.
    pub(crate) fn into_backend(self, url: &str) -> BackendError {
        match self {
            StoreError::Corrupt { key, detail } => BackendError::Corrupt {
                backend: NAME,
                key,
                detail,
            },
            StoreError::Closed => BackendError::Closed(NAME),
            e @ (StoreError::Open { .. }
            | StoreError::Pragma { .. }
            | StoreError::TooNew { .. }
            | StoreError::Thread(_)) => BackendError::Unavailable {
                backend: NAME,
                url: url.to_owned(),
                source: Box::new(e),
            },
            e => BackendError::Command {
                backend: NAME,
                source: Box::new(e),
            },
        }
    }
}

impl From<StoreError> for BackendError {
    fn from(e: StoreError) -> Self {
        e.into_backend("")
    }
}
