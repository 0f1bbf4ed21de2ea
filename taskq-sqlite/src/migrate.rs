//! The schema, versioned: each migration is a named `.sql` file beside this one, applied once,
//! in order, in a `BEGIN IMMEDIATE` transaction on the writer's connection when the backend
//! opens the file (several processes opening one file at once apply each migration once:
//! the first takes the write lock, the others find it applied). The version applied is
//! `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::StoreError;

/// The migrations, oldest first: `(version, name, SQL)`. Versions start at 1 and have no gaps.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "core", include_str!("migrations/0001_core.sql"))];

/// The newest schema version this build knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Brings the file's schema to [`latest`].
///
/// # Errors
/// SQLite's error, or [`StoreError::TooNew`] when the file is newer than this build.
pub(crate) fn apply(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == latest() {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match apply_in(conn) {
        Ok(()) => {
            conn.execute_batch("COMMIT")?;
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn apply_in(conn: &Connection) -> Result<(), StoreError> {
    // Read again under the write lock: another process may have just applied them.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > latest() {
        return Err(StoreError::TooNew {
            found: version,
            known: latest(),
        });
    }
    for (v, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > version) {
        tracing::info!(version = v, name, "taskq-sqlite: applying migration");
        conn.execute_batch(sql)?;
        conn.execute_batch(&format!("PRAGMA user_version = {v}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0, i as i64 + 1, "migration {} ({})", m.0, m.1);
        }
    }

    #[test]
    fn applying_twice_is_a_no_op_and_a_newer_file_is_refused() {
        let conn = Connection::open_in_memory().expect("open");
        apply(&conn).expect("first");
        apply(&conn).expect("second");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, latest());
        conn.execute_batch(&format!("PRAGMA user_version = {}", latest() + 1))
            .expect("bump");
        assert!(matches!(apply(&conn), Err(StoreError::TooNew { .. })));
    }
}
