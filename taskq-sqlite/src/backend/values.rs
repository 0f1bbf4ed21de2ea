//! Conversions between taskq's values and SQLite's columns, shared by every transition.

use taskq::{Outcome, TaskId, Timestamp};

use crate::error::StoreError;

/// Now on the wall clock, in milliseconds since the epoch: every process on the file uses the
/// same clock (keep the machine's clock steady; a jump moves due times and lease deadlines).
pub(crate) fn now_ms() -> i64 {
    ms(Timestamp::now())
}

/// A timestamp as a column value.
pub(crate) fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

/// A column value as a timestamp.
pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp(u64::try_from(ms).unwrap_or(0))
}

/// A duration in milliseconds as a column value.
pub(crate) fn dur_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// A task id as its 16 bytes.
pub(crate) fn id_bytes(id: TaskId) -> [u8; 16] {
    *id.as_uuid().as_bytes()
}

/// A task id from its column.
pub(crate) fn id_of(bytes: &[u8]) -> Result<TaskId, StoreError> {
    uuid::Uuid::from_slice(bytes)
        .map(TaskId::from)
        .map_err(|e| StoreError::corrupt("tasks.id", e))
}

/// An outcome as stored in `results.outcome`.
pub(crate) fn outcome_json(o: &Outcome) -> Result<String, StoreError> {
    serde_json::to_string(o).map_err(|e| StoreError::corrupt("results.outcome", e))
}

/// An outcome from `results.outcome`.
pub(crate) fn outcome_of(json: &str) -> Result<Outcome, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt("results.outcome", e))
}

/// Now on the wall clock, in microseconds since the epoch (rate limits' slots).
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
