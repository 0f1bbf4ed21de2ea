//! Revocation: a queued or scheduled task is removed (with a cancelled result stored), a running
//! one is flagged for its worker to see at its next lease extension.

use redis::Value;
use taskq::backend::CancelOutcome;
use taskq::{BackendError, Envelope, FailureKind, Outcome, TaskFailure, TaskId};

use super::values::{expiry, rendered, text, About};
use super::Inner;
use crate::codec;
use crate::conn::command_error;
use crate::scripts;

impl Inner {
    pub(super) async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, BackendError> {
        let sid = id.to_string();
        let queues = self.candidates(id).await?;
        for _ in 0..8 {
            let mut pipe = redis::pipe();
            for q in &queues {
                let k = self.keys(q);
                pipe.cmd("HGET").arg(k.env()).arg(&sid);
                pipe.cmd("ZSCORE").arg(k.lease()).arg(&sid);
                pipe.cmd("HGET").arg(k.denv()).arg(&sid);
            }
            let rows: Vec<(Option<String>, Option<f64>)> = if queues.is_empty() {
                Vec::new()
            } else {
                let flat: Vec<Value> = self.query(&pipe).await?;
                flat.chunks(3)
                    .map(|c| {
                        let blob = c
                            .first()
                            .cloned()
                            .and_then(text)
                            .or_else(|| c.get(2).cloned().and_then(text));
                        let leased = c.get(1).is_some_and(|v| !matches!(v, Value::Nil));
                        (blob, leased.then_some(0.0))
                    })
                    .collect()
            };
            let Some((queue, (blob, _))) = queues
                .iter()
                .zip(rows)
                .find(|(_, (blob, leased))| blob.is_some() || leased.is_some())
            else {
                return Ok(CancelOutcome::NotFound);
            };
            let blob = blob.unwrap_or_default();
            let (priority, ttl, task, attempt) = match codec::parse_message(&blob) {
                Some(h) => match serde_json::from_str::<Envelope>(h.json) {
                    Ok(e) => (h.priority, e.result_ttl(), Some(e.task), e.attempt),
                    Err(_) => (h.priority, Some(taskq::DEFAULT_RESULT_TTL), None, 0),
                },
                None => (
                    taskq::DEFAULT_PRIORITY,
                    Some(taskq::DEFAULT_RESULT_TTL),
                    None,
                    0,
                ),
            };
            let about = About {
                task: task.as_deref(),
                attempt,
                ..About::default()
            };
            let k = self.keys(queue);
            let (stored, entry) = rendered(
                &sid,
                &Outcome::Failure(TaskFailure::new(FailureKind::Cancelled, "revoked")),
                &about,
            )?;
            let mut inv = scripts::CANCEL.prepare_invoke();
            inv.key(k.env())
                .key(k.lease())
                .key(k.delayed())
                .key(k.cancel())
                .key(k.progress())
                .key(k.watch())
                .key(k.results())
                .key(k.expiry())
                .key(k.ready(priority))
                .key(k.attempt())
                .key(k.denv())
                .arg(&sid)
                .arg(&blob)
                .arg(expiry(ttl))
                .arg(stored)
                .arg(entry);
            match self.eval::<i64>(&inv).await? {
                2 => return Ok(CancelOutcome::Signalled),
                1 => return Ok(CancelOutcome::Removed),
                0 => return Ok(CancelOutcome::NotFound),
                _ => continue,
            }
        }
        Err(command_error(redis::RedisError::from((
            redis::ErrorKind::Client,
            "the task kept changing while it was being revoked",
        ))))
    }
}
