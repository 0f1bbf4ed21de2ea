//! Purging a queue: its waiting messages (ready and scheduled) are deleted, each resolved as
//! cancelled ("purged from its queue") so that its waiters learn of it; running tasks and dead
//! letters stay.

use taskq::{BackendError, FailureKind, Outcome, TaskFailure, Timestamp};

use super::values::outcome_json;
use super::{Inner, CHUNK};
use crate::scripts;

impl Inner {
    pub(super) async fn purge_queue(&self, queue: &str) -> Result<usize, BackendError> {
        let k = self.keys(queue);
        let outcome = outcome_json(&Outcome::Failure(TaskFailure::new(
            FailureKind::Cancelled,
            "purged from its queue",
        )))?;
        let mut purged = 0usize;
        loop {
            let mut inv = scripts::PURGE.prepare_invoke();
            inv.key(k.env()).key(k.denv()).key(k.delayed());
            for r in k.ready_all() {
                inv.key(r);
            }
            inv.key(k.attempt())
                .key(k.progress())
                .key(k.watch())
                .key(k.results())
                .key(k.expiry())
                .key(k.lease())
                .arg(CHUNK)
                .arg(&outcome)
                .arg(Timestamp::now().as_millis());
            let (taken, n): (usize, usize) = self.eval(&inv).await?;
            purged += n;
            if taken < CHUNK {
                return Ok(purged);
            }
        }
    }
}
