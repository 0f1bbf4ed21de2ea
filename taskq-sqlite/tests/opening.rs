//! Opening a file: the pragmas are in effect (read back by a separate connection), mistakes in
//! the URL or the file are clear errors naming it, and a file another process holds the write
//! lock of is waited for, not failed.

use std::time::Duration;

use rusqlite::Connection;
use taskq::backend::Backend;
use taskq::{BackendError, Envelope, Payload};
use taskq_sqlite::testing::TempDb;
use taskq_sqlite::SqliteBackend;

#[tokio::test]
async fn the_file_is_in_wal_mode_with_the_schema_applied() {
    let db = TempDb::new().unwrap();
    let backend = db.open().await.unwrap();
    let conn = Connection::open(db.path()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert!(version >= 1, "schema version {version}");
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('tasks', 'results', 'dead')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 3);
    drop(backend);
}

#[tokio::test]
async fn url_mistakes_are_named() {
    for (url, says) in [
        ("sqlite://", "names no database file"),
        ("sqlite://:memory:", "in-memory"),
        (
            "sqlite:///tmp/x.db?synchronous=sometimes",
            "synchronous=sometimes",
        ),
        (
            "sqlite:///tmp/x.db?colour=blue",
            "unknown parameter `colour`",
        ),
        ("sqlite:///tmp/x.db?watch_ms=0", "watch_ms=0"),
    ] {
        let err = SqliteBackend::connect(url).await.unwrap_err();
        assert!(
            matches!(err, BackendError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
        assert!(err.to_string().contains(says), "{url}: {err}");
    }
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_naming_it() {
    let db = TempDb::new().unwrap();
    std::fs::write(
        db.path(),
        b"this is not a database, just some text that is long enough",
    )
    .unwrap();
    let err = SqliteBackend::connect(&db.url()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BackendError::Unavailable { .. }), "{err:?}");
    assert!(text.contains(&db.path().display().to_string()), "{text}");
}

#[tokio::test]
async fn a_directory_that_does_not_exist_is_refused_naming_it() {
    let err = SqliteBackend::connect("sqlite:///nonexistent-dir-taskq/tasks.db")
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("nonexistent-dir-taskq"), "{err}");
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = TempDb::new().unwrap();
    drop(db.open().await.unwrap());
    let conn = Connection::open(db.path()).unwrap();
    conn.execute_batch("PRAGMA user_version = 999").unwrap();
    drop(conn);
    let err = SqliteBackend::connect(&db.url()).await.unwrap_err();
    assert!(err.to_string().contains("999"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_for_another_connections_write_lock() {
    let db = TempDb::new().unwrap();
    let backend = db.open().await.unwrap();
    // Another connection (as another process would) holds the write lock for 300 ms.
    let path = db.path().to_owned();
    let holder = std::thread::spawn(move || {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        conn.execute_batch("COMMIT").unwrap();
    });
    std::thread::sleep(Duration::from_millis(50));
    let env = Envelope::new("t", "locked", Payload::encode(&1).unwrap());
    backend
        .publish(vec![env])
        .await
        .expect("published once the lock was free");
    holder.join().unwrap();
    assert_eq!(backend.queue_stats("locked").await.unwrap().ready, 1);
}
