//! Pausing a queue fleet-wide: a key the fetch script checks, so every worker stops taking
//! from the queue at its next fetch; resuming deletes it and wakes the workers blocked on the
//! queue. Nothing moves while paused: ready tasks stay ready, running ones go on.

use taskq::BackendError;

use super::Inner;
use crate::keys;

impl Inner {
    pub(super) async fn pause_queue(&self, queue: &str) -> Result<(), BackendError> {
        let k = self.keys(queue);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(k.paused())
            .arg("1")
            .ignore()
            // Listed among the queues even before anything is sent to it.
            .cmd("SADD")
            .arg(keys::queues_key(&self.prefix))
            .arg(queue)
            .ignore();
        self.query::<()>(&pipe).await
    }

    pub(super) async fn resume_queue(&self, queue: &str) -> Result<(), BackendError> {
        let k = self.keys(queue);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(k.paused())
            .ignore()
            .cmd("RPUSH")
            .arg(k.wake())
            .arg("1")
            .ignore()
            .cmd("LTRIM")
            .arg(k.wake())
            .arg(0)
            .arg(0)
            .ignore();
        self.query::<()>(&pipe).await
    }
}
