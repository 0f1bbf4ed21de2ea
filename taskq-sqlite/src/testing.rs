//! Test helpers (feature `testing`): a database file in a fresh temporary directory, removed
//! with its WAL files when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{SqliteBackend, SqliteConfig};

/// A fresh directory with a database file name in it (the file itself is created on first
/// open). Dropping it removes the directory.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = taskq_sqlite::testing::TempDb::new()?;
/// let backend = db.open().await?;
/// assert!(db.path().exists());
/// # drop(backend);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TempDb {
    dir: PathBuf,
    path: PathBuf,
}

impl TempDb {
    /// Makes the directory.
    ///
    /// # Errors
    /// The file system's error.
    pub fn new() -> std::io::Result<Self> {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "taskq-sqlite-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("tasks.db");
        Ok(Self { dir, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `sqlite://` URL of the file.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// Opens a backend on the file with the default settings.
    ///
    /// # Errors
    /// As [`SqliteBackend::open`].
    pub async fn open(&self) -> Result<SqliteBackend, taskq::BackendError> {
        SqliteBackend::open(SqliteConfig::new(&self.path)).await
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
