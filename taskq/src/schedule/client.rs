//! Schedules through a [`Client`]: create, list, pause, resume, trigger, delete.

use crate::client::Client;
use crate::error::Error;
use crate::message::{TaskId, Timestamp};

use super::spec::ScheduleSpec;
use super::state::StoredSchedule;

impl Client {
    /// Stores a schedule (or replaces its spec, keeping its state). Returns whether it was new.
    ///
    /// ```
    /// #[taskq::task]
    /// async fn ping() {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = taskq::Client::memory();
    /// let spec = taskq::Schedule::every("1h")?.run(ping::new())?;
    /// assert!(client.create_schedule(&spec).await?);
    /// assert!(!client.create_schedule(&spec).await?); // idempotent
    /// let all = client.list_schedules().await?;
    /// assert_eq!(all.len(), 1);
    /// assert!(client.pause_schedule(&spec.id).await?);
    /// assert!(client.schedule(&spec.id).await?.unwrap().state.paused);
    /// assert!(client.delete_schedule(&spec.id).await?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The backend's.
    pub async fn create_schedule(&self, spec: &ScheduleSpec) -> Result<bool, Error> {
        Ok(self.backend().put_schedule(spec).await?)
    }

    /// Every stored schedule with its state.
    ///
    /// # Errors
    /// The backend's.
    pub async fn list_schedules(&self) -> Result<Vec<StoredSchedule>, Error> {
        Ok(self.backend().schedules().await?)
    }

    /// One stored schedule.
    ///
    /// # Errors
    /// The backend's.
    pub async fn schedule(&self, id: &str) -> Result<Option<StoredSchedule>, Error> {
        Ok(self.backend().schedule(id).await?)
    }

    /// Pauses a schedule: its ticks are recorded as skipped until it is resumed. Returns
    /// whether it exists.
    ///
    /// # Errors
    /// The backend's.
    pub async fn pause_schedule(&self, id: &str) -> Result<bool, Error> {
        Ok(self.backend().set_schedule_paused(id, true).await?)
    }

    /// Resumes a paused schedule (the ticks it missed while paused do not run).
    ///
    /// # Errors
    /// The backend's.
    pub async fn resume_schedule(&self, id: &str) -> Result<bool, Error> {
        Ok(self.backend().set_schedule_paused(id, false).await?)
    }

    /// Deletes a schedule. Returns whether it existed.
    ///
    /// # Errors
    /// The backend's.
    pub async fn delete_schedule(&self, id: &str) -> Result<bool, Error> {
        Ok(self.backend().delete_schedule(id).await?)
    }

    /// Sends a schedule's task now, once, outside its ticks (a fresh id; the schedule's state
    /// does not change). `None` if there is no such schedule.
    ///
    /// # Errors
    /// The backend's.
    pub async fn trigger_schedule(&self, id: &str) -> Result<Option<TaskId>, Error> {
        let Some(stored) = self.backend().schedule(id).await? else {
            return Ok(None);
        };
        let mut env = stored.spec.template;
        env.id = TaskId::new();
        env.eta = None;
        env.enqueued_at = Timestamp::now();
        let id = env.id;
        self.send_envelopes(vec![env]).await?;
        Ok(Some(id))
    }
}
