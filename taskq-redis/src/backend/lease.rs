//! The other transitions of a leased task, each fenced by its lease: retry later, hand back,
//! move to the dead letters, extend, report progress.

use std::collections::HashMap;
use std::time::Duration;

use taskq::backend::LeaseStatus;
use taskq::{BackendError, DeadLetterReason, Lease, Outcome, Payload, TaskFailure, Timestamp};

use super::events::Carry;
use super::values::{encode_error, expiry, rendered, About};
use super::{Inner, CHUNK};
use crate::codec;
use crate::scripts;

impl Inner {
    pub(super) async fn retry(&self, lease: &Lease, delay: Duration) -> Result<bool, BackendError> {
        let k = self.keys(&lease.queue);
        let mut inv = scripts::RETRY.prepare_invoke();
        inv.key(k.attempt())
            .key(k.lease())
            .key(k.delayed())
            .key(k.cancel())
            .key(k.wake())
            .arg(lease.id.to_string())
            .arg(lease.attempt)
            .arg(Timestamp::now().after(delay).as_millis());
        Ok(self
            .eval_with_events::<i64>(inv, &k, &lease.queue, Carry::Wait)
            .await?
            == 1)
    }

    pub(super) async fn release(&self, leases: Vec<Lease>) -> Result<(), BackendError> {
        let mut groups: HashMap<&str, Vec<&Lease>> = HashMap::new();
        for l in &leases {
            groups.entry(l.queue.as_str()).or_default().push(l);
        }
        for (queue, ls) in groups {
            let k = self.keys(queue);
            for chunk in ls.chunks(CHUNK) {
                let mut inv = scripts::RELEASE.prepare_invoke();
                inv.key(k.env())
                    .key(k.lease())
                    .key(k.cancel())
                    .key(k.wake())
                    .key(k.attempt());
                for r in k.ready_all() {
                    inv.key(r);
                }
                for l in chunk {
                    inv.arg(l.id.to_string()).arg(l.attempt);
                }
                self.eval::<i64>(&inv).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn dead_letter(
        &self,
        lease: &Lease,
        reason: DeadLetterReason,
        failure: &TaskFailure,
        result_ttl: Option<Duration>,
        reply_to: Option<String>,
    ) -> Result<bool, BackendError> {
        let k = self.keys(&lease.queue);
        let id = lease.id.to_string();
        let head = codec::dead_letter_head(lease.id, &lease.queue, reason, &failure.message)
            .map_err(|e| encode_error("a dead letter", e))?;
        let about = About {
            attempt: lease.attempt,
            dead_reason: Some(reason),
            ..About::default()
        };
        let (stored, entry) = rendered(&id, &Outcome::Failure(failure.clone()), &about)?;
        let mut inv = scripts::DEAD_LETTER.prepare_invoke();
        k.dead_letter_keys(&mut inv);
        inv.arg(&id)
            .arg(lease.attempt)
            .arg(expiry(result_ttl))
            .arg(stored)
            .arg(entry)
            .arg(reply_to.as_deref().unwrap_or(""))
            .arg(head);
        Ok(self
            .eval_with_events::<i64>(inv, &k, &lease.queue, Carry::Wait)
            .await?
            == 1)
    }

    pub(super) async fn extend(
        &self,
        leases: &[Lease],
        by: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        let mut out = vec![LeaseStatus::Lost; leases.len()];
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, l) in leases.iter().enumerate() {
            groups.entry(l.queue.as_str()).or_default().push(i);
        }
        for (queue, idx) in groups {
            let k = self.keys(queue);
            for chunk in idx.chunks(CHUNK) {
                let mut inv = scripts::EXTEND.prepare_invoke();
                inv.key(k.attempt())
                    .key(k.lease())
                    .key(k.cancel())
                    .arg(Timestamp::now().after(by).as_millis());
                for &i in chunk {
                    inv.arg(leases[i].id.to_string())
                        .arg(leases[i].attempt.saturating_sub(1));
                }
                let st: Vec<i64> = self.eval(&inv).await?;
                for (&i, s) in chunk.iter().zip(st) {
                    out[i] = match s {
                        1 => LeaseStatus::Held,
                        2 => LeaseStatus::Cancelled,
                        _ => LeaseStatus::Lost,
                    };
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn set_progress(
        &self,
        lease: &Lease,
        progress: Payload,
    ) -> Result<(), BackendError> {
        let k = self.keys(&lease.queue);
        let mut inv = scripts::PROGRESS.prepare_invoke();
        inv.key(k.attempt())
            .key(k.lease())
            .key(k.progress())
            .arg(lease.id.to_string())
            .arg(lease.attempt)
            .arg(progress.as_str());
        self.eval::<i64>(&inv).await?;
        Ok(())
    }
}
