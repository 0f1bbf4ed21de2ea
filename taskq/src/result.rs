//! [`AsyncResult`]: the typed handle of a sent task.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::backend::CancelOutcome;
use crate::client::Client;
use crate::error::Error;
use crate::message::{Outcome, TaskId};
use crate::state::{TaskRecord, TaskState};

/// The handle of a sent task, typed by what the task returns.
///
/// `get()` waits for the outcome without polling: the backend wakes it when the task finishes.
/// A handle is only an id and a client, so it can be rebuilt anywhere with
/// [`AsyncResult::from_id`] (from an id stored in a database or sent in an HTTP response).
///
/// ```
/// #[taskq::task]
/// async fn shout(s: String) -> Result<String, String> {
///     if s.is_empty() { Err("nothing to shout".into()) } else { Ok(s.to_uppercase()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
///
/// let ok = shout::new("hi".into()).delay_on(&client).await?;
/// assert_eq!(ok.get().await?, "HI");
///
/// let bad = shout::new(String::new()).delay_on(&client).await?;
/// let err = bad.get().await.unwrap_err();
/// assert!(err.to_string().contains("nothing to shout"));
///
/// // Look it up again later, by id.
/// let again = taskq::AsyncResult::<String>::from_id_on(&client, ok.id());
/// assert_eq!(again.state().await?, taskq::TaskState::Succeeded);
/// worker.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub struct AsyncResult<T> {
    id: TaskId,
    client: Client,
    result_kept: bool,
    task: &'static str,
    enqueued: crate::unique::Enqueued,
    _output: PhantomData<fn() -> T>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            client: self.client.clone(),
            result_kept: self.result_kept,
            task: self.task,
            enqueued: self.enqueued,
            _output: PhantomData,
        }
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("id", &self.id)
            .field("output", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T> AsyncResult<T> {
    pub(crate) fn with_result_kept(client: Client, id: TaskId, result_kept: bool) -> Self {
        Self {
            id,
            client,
            result_kept,
            task: "",
            enqueued: crate::unique::Enqueued::New,
            _output: PhantomData,
        }
    }

    pub(crate) fn named(mut self, task: &'static str) -> Self {
        self.task = task;
        self
    }

    pub(crate) fn with_enqueued(mut self, enqueued: crate::unique::Enqueued) -> Self {
        self.enqueued = enqueued;
        self
    }

    /// Whether the send that made this handle enqueued a new task, or found a live task holding
    /// the same unique key and returned its handle ([`Enqueued::Existing`](crate::unique::Enqueued)):
    /// always `New` for a task that is not unique, and for a handle rebuilt from an id.
    /// See [`crate::unique`].
    pub fn enqueued(&self) -> crate::unique::Enqueued {
        self.enqueued
    }

    /// The handle of task `id` on `client`.
    pub fn from_id_on(client: &Client, id: TaskId) -> Self {
        Self::with_result_kept(client.clone(), id, true)
    }

    /// The handle of task `id` on the current client ([`Client::current`]).
    ///
    /// # Errors
    /// As [`Client::current`].
    pub async fn from_id(id: TaskId) -> Result<Self, Error> {
        Ok(Self::from_id_on(&Client::current().await?, id))
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The client this handle reads through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The same handle, read as another type (for instance `serde_json::Value`).
    pub fn cast<U>(self) -> AsyncResult<U> {
        AsyncResult::with_result_kept(self.client, self.id, self.result_kept)
            .named(self.task)
            .with_enqueued(self.enqueued)
    }

    /// The task's state. A task the backend does not know (not yet, or its result expired) is
    /// [`TaskState::Pending`], as in Celery.
    ///
    /// # Errors
    /// The backend's error.
    pub async fn state(&self) -> Result<TaskState, Error> {
        Ok(self.record().await?.map_or(TaskState::Pending, |r| r.state))
    }

    /// Everything the backend knows of the task.
    ///
    /// # Errors
    /// The backend's error.
    pub async fn record(&self) -> Result<Option<TaskRecord>, Error> {
        Ok(self.client.backend().record(self.id).await?)
    }

    /// The task's last progress report ([`Context::set_progress`](crate::Context::set_progress)).
    ///
    /// # Errors
    /// The backend's error; [`Error::DecodeResult`] if it is not a `P`.
    pub async fn progress<P: DeserializeOwned>(&self) -> Result<Option<P>, Error> {
        let Some(record) = self.record().await? else {
            return Ok(None);
        };
        record
            .progress
            .map(|p| p.decode())
            .transpose()
            .map_err(|source| Error::DecodeResult {
                id: self.id,
                source,
            })
    }

    /// Revokes the task (see [`Client::revoke`]).
    ///
    /// # Errors
    /// The backend's error.
    pub async fn revoke(&self) -> Result<CancelOutcome, Error> {
        self.client.revoke(self.id).await
    }
}

impl<T: DeserializeOwned> AsyncResult<T> {
    /// Waits for the task to finish and returns its output.
    ///
    /// # Errors
    /// [`Error::TaskFailed`] with the task's error message if it failed for good (after its
    /// retries), was revoked, expired or was dead-lettered; [`Error::NoResult`] if it was sent
    /// with `ignore_result`; the backend's error.
    pub async fn get(&self) -> Result<T, Error> {
        self.wait(None).await
    }

    /// Like [`get`](Self::get), but gives up after `timeout` with [`Error::ResultTimeout`].
    ///
    /// # Errors
    /// As [`get`](Self::get), plus [`Error::ResultTimeout`].
    pub async fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.wait(Some(timeout)).await
    }

    async fn wait(&self, timeout: Option<Duration>) -> Result<T, Error> {
        if !self.result_kept {
            return Err(Error::NoResult { id: self.id });
        }
        match self.client.backend().wait_result(self.id, timeout).await? {
            Some(outcome) => self.decode(outcome),
            None => Err(Error::ResultTimeout {
                id: self.id,
                waited: timeout.unwrap_or_default(),
            }),
        }
    }

    fn decode(&self, outcome: Outcome) -> Result<T, Error> {
        match outcome {
            Outcome::Success(payload) => payload.decode().map_err(|source| Error::DecodeResult {
                id: self.id,
                source,
            }),
            Outcome::Failure(failure) => Err(Error::TaskFailed {
                id: self.id,
                task: self.task.to_owned(),
                failure,
            }),
        }
    }
}
