//! Finding a task by id: the ids this instance published (with their queue) are remembered;
//! any other id is looked for in every queue this prefix has seen.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use taskq::{BackendError, TaskId};

use super::{lock, Inner};
use crate::keys;
use crate::notify::Mark;

/// How many task ids (with their queue) an instance remembers from its own publishes, to find
/// a task by id without asking every queue.
const ID_CACHE: usize = 100_000;

/// Ids this instance published: their queue, and, when their reply channel is ours, where the
/// subscription stood when they were sent.
#[derive(Default)]
pub(super) struct IdCache {
    map: HashMap<TaskId, Sent>,
    order: VecDeque<TaskId>,
}

#[derive(Clone)]
pub(super) struct Sent {
    pub(super) queue: Arc<str>,
    pub(super) ours: bool,
    pub(super) mark: Option<Mark>,
}

impl IdCache {
    pub(super) fn insert(&mut self, id: TaskId, sent: Sent) {
        if self.map.insert(id, sent).is_none() {
            self.order.push_back(id);
            if self.order.len() > ID_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

impl Inner {
    pub(super) fn cached(&self, id: TaskId) -> Option<Sent> {
        lock(&self.ids).map.get(&id).cloned()
    }

    /// The queues task `id` may be in: the one it was published to by this instance, or every
    /// queue this prefix has seen.
    pub(super) async fn candidates(&self, id: TaskId) -> Result<Vec<String>, BackendError> {
        if let Some(sent) = self.cached(id) {
            return Ok(vec![sent.queue.to_string()]);
        }
        let mut queues: Vec<String> = self
            .command(redis::cmd("SMEMBERS").arg(keys::queues_key(&self.prefix)))
            .await?;
        queues.sort_unstable();
        Ok(queues)
    }
}
