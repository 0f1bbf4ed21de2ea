//! Calling a task by name, the way Celery's `send_task` does: for tasks that exist only in
//! Python.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use taskq::{AsyncResult, Client, Envelope, Error, Payload};

use crate::protocol::MIXED_ARGS_KEY;

/// A call of a task known only by name: `SendTask::new("tasks.mul").args((6, 7))`, then
/// [`send`](Self::send) with the result type.
///
/// ```no_run
/// # async fn demo(client: &taskq::Client) -> Result<(), taskq::Error> {
/// use taskq_celery::SendTask;
/// let product = SendTask::new("tasks.mul").args((6, 7))?.send::<i64>(client).await?;
/// assert_eq!(product.get().await?, 42);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a call does nothing until it is sent"]
pub struct SendTask {
    name: String,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
    queue: String,
    countdown: Option<Duration>,
    expires_in: Option<Duration>,
    priority: Option<u8>,
    ignore_result: bool,
}

impl SendTask {
    /// A call of task `name` with no arguments, to taskq's `default` queue (Celery's `celery`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            args: Vec::new(),
            kwargs: Map::new(),
            queue: taskq::DEFAULT_QUEUE.to_owned(),
            countdown: None,
            expires_in: None,
            priority: None,
            ignore_result: false,
        }
    }

    /// Positional arguments: a tuple, array or `Vec` (a single other value is one argument).
    ///
    /// # Errors
    /// [`Error::Encode`] if they do not serialize.
    pub fn args(mut self, args: impl Serialize) -> Result<Self, Error> {
        let v = serde_json::to_value(args).map_err(|source| Error::Encode {
            what: "positional arguments",
            source,
        })?;
        self.args = match v {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        Ok(self)
    }

    /// Keyword arguments: a struct or map that serializes as a JSON object.
    ///
    /// # Errors
    /// [`Error::Encode`] if they do not serialize to an object.
    pub fn kwargs(mut self, kwargs: impl Serialize) -> Result<Self, Error> {
        let v = serde_json::to_value(kwargs).map_err(|source| Error::Encode {
            what: "keyword arguments",
            source,
        })?;
        match v {
            Value::Object(o) => self.kwargs = o,
            Value::Null => self.kwargs = Map::new(),
            _ => {
                return Err(Error::Encode {
                    what: "keyword arguments",
                    source: serde::ser::Error::custom("keyword arguments must be a JSON object"),
                })
            }
        }
        Ok(self)
    }

    /// One keyword argument.
    ///
    /// # Errors
    /// [`Error::Encode`] if it does not serialize.
    pub fn kwarg(mut self, name: impl Into<String>, value: impl Serialize) -> Result<Self, Error> {
        let v = serde_json::to_value(value).map_err(|source| Error::Encode {
            what: "keyword argument",
            source,
        })?;
        self.kwargs.insert(name.into(), v);
        Ok(self)
    }

    /// The taskq queue to send to (`default` is Celery's `celery`).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Runs no sooner than this long from now (sent as Celery's `eta` header).
    pub fn countdown(mut self, delay: Duration) -> Self {
        self.countdown = Some(delay);
        self
    }

    /// Revoked if not started within this long.
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.expires_in = Some(ttl);
        self
    }

    /// taskq's priority, 0 to 9 (higher first; see [`crate::protocol::to_celery_priority`]).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = Some(priority.min(taskq::MAX_PRIORITY));
        self
    }

    /// Asks the worker to store no result.
    pub fn ignore_result(mut self) -> Self {
        self.ignore_result = true;
        self
    }

    /// The message this call sends.
    ///
    /// # Errors
    /// [`Error::Encode`] if the arguments do not serialize.
    pub fn into_envelope(self) -> Result<Envelope, Error> {
        let args = if self.kwargs.is_empty() {
            Value::Array(self.args)
        } else if self.args.is_empty() {
            Value::Object(self.kwargs)
        } else {
            let mut m = Map::new();
            m.insert(
                MIXED_ARGS_KEY.to_owned(),
                Value::Array(vec![Value::Array(self.args), Value::Object(self.kwargs)]),
            );
            Value::Object(m)
        };
        let payload = Payload::encode(&args).map_err(|source| Error::Encode {
            what: "task arguments",
            source,
        })?;
        let mut env = Envelope::new(self.name, self.queue, payload);
        let now = env.enqueued_at;
        env.eta = self.countdown.map(|d| now.after(d));
        env.expires = self.expires_in.map(|d| now.after(d));
        if let Some(p) = self.priority {
            env.priority = p;
        }
        if self.ignore_result {
            env.result_ttl_ms = None;
        }
        Ok(env)
    }

    /// Sends the call through `client` (whose backend should be this crate's) and returns a
    /// handle typed with the result the task is expected to return.
    ///
    /// # Errors
    /// [`Error::Encode`]; the backend's error.
    pub async fn send<R: DeserializeOwned>(self, client: &Client) -> Result<AsyncResult<R>, Error> {
        let env = self.into_envelope()?;
        let id = env.id;
        client.send_envelopes(vec![env]).await?;
        Ok(client.result::<R>(id))
    }
}

/// Calls task `name` with positional and keyword arguments, as Celery's
/// `app.send_task(name, args, kwargs)`, and returns its typed handle.
///
/// # Errors
/// As [`SendTask::send`].
pub async fn send_task<R: DeserializeOwned>(
    client: &Client,
    name: &str,
    args: impl Serialize,
    kwargs: impl Serialize,
) -> Result<AsyncResult<R>, Error> {
    SendTask::new(name)
        .args(args)?
        .kwargs(kwargs)?
        .send::<R>(client)
        .await
}
