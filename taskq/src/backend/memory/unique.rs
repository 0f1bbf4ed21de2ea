//! Unique keys of the in-memory backend (see [`crate::unique`]): which task holds which key of
//! its queue, and until when at most. Taken under the backend's one lock with the publish, and
//! released by [`State::finish`](super::State), the one place every end of a task goes through
//! (success, dead letter, revocation, purge, expiry, a workflow's resolve), so a key is never
//! free while its task lives, nor held after it ended. A task that is not unique costs one
//! `is_empty` check at its end.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{instant_of, MemoryBackend};
use crate::error::BackendError;
use crate::message::{Envelope, IdMap, TaskId, Timestamp};
use crate::unique::UniqueOutcome;

/// A key: the queue and the digest.
type Key = (String, String);

/// The held keys.
#[derive(Default)]
pub(super) struct Uniques {
    /// Key → its holder and the end of its window.
    held: HashMap<Key, (TaskId, Instant)>,
    /// Holder → its key.
    by_id: IdMap<Key>,
}

impl Uniques {
    /// Releases the key `id` holds, if it holds one (and still holds it).
    pub(super) fn release(&mut self, id: TaskId) {
        if self.by_id.is_empty() {
            return;
        }
        if let Some(key) = self.by_id.remove(&id) {
            if self.held.get(&key).is_some_and(|(holder, _)| *holder == id) {
                self.held.remove(&key);
            }
        }
    }
}

impl MemoryBackend {
    /// [`Backend::publish_unique`](crate::backend::Backend::publish_unique) in memory.
    pub(super) fn publish_unique_now(
        &self,
        env: Envelope,
        key: &str,
        ttl: Duration,
    ) -> Result<UniqueOutcome, BackendError> {
        let now = Instant::now();
        {
            let mut st = self.lock();
            let k: Key = (env.queue.clone(), key.to_owned());
            if let Some((holder, until)) = st.unique.held.get(&k).copied() {
                if until > now && st.tasks.contains_key(&holder) {
                    return Ok(UniqueOutcome::Existing(holder));
                }
                // The window ran out, or the holder is gone without a release: free.
                st.unique.held.remove(&k);
                st.unique.by_id.remove(&holder);
            }
            // The window counts from the task's due time when it is later than now.
            let start = env
                .eta
                .filter(|eta| *eta > Timestamp::now())
                .map_or(now, |eta| instant_of(eta, now));
            st.unique.held.insert(k.clone(), (env.id, start + ttl));
            st.unique.by_id.insert(env.id, k);
            st.insert(env, now);
        }
        self.shared.wake_fetchers();
        Ok(UniqueOutcome::New)
    }
}
