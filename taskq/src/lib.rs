//! # taskq: typed background tasks for Rust
//!
//! Put `#[taskq::task]` on a function, and from then on it can run in the background, on another
//! machine, later, again after a failure, with its typed result awaited from anywhere.
//!
//! ```
//! #[taskq::task(retries = 3, timeout = "30s")]
//! async fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), taskq::Error> {
//! // A worker in this process (in production: its own binary whose main is
//! // `taskq::worker::run()`), on the in-memory backend that `TASKQ_URL` unset selects.
//! let worker = taskq::Worker::builder().spawn()?;
//!
//! let handle = add(2, 3).delay().await?; // AsyncResult<i64>
//! let five: i64 = handle.get().await?;
//! assert_eq!(five, 5);
//!
//! assert_eq!(add(2, 3).await, 5); // the function still runs in place, too
//! worker.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## The model
//!
//! ```text
//!  #[task] fn ──► struct of arguments + impl Task + link-time registry entry
//!
//!  producer: add(2, 3).delay() ──► Client ──publish──► Backend (memory://, redis://, ...)
//!                    │                                     │ fetch under a lease
//!                    ▼                                     ▼
//!          AsyncResult<i64>.get() ◄──result, woken──── Worker: runs the registered task,
//!                                                      retries, timeouts, dead letters
//! ```
//!
//! - [`#[task]`](macro@task) turns a function into a serializable struct holding its arguments
//!   (named after the function) that implements [`Task`], and registers it at link time.
//! - A [`Client`] sends tasks to a [`Backend`](backend::Backend). `.delay()` uses the
//!   process-wide client, made from `TASKQ_URL` (`memory://` when unset); the backend is chosen
//!   by configuration, not code.
//! - An [`AsyncResult<T>`] is the typed handle of a sent task: `get()` waits for the result
//!   without polling, and a failure comes back as [`Error::TaskFailed`] with the task's message.
//! - A [`Worker`] runs every registered task: at most `concurrency` at once, each under a lease
//!   the backend takes back if the worker dies, with timeouts, panics contained, retries with
//!   exponential backoff and full jitter, and poison messages sent to the dead-letter queue.
//!
//! - [`canvas`] composes tasks into workflows: chains (`a.then(b::partial(..))`), groups, chords
//!   and DAGs, type-checked by the compiler, run without a coordinator; [`#[workflow]`](macro@workflow)
//!   registers a function that builds one, startable by name with JSON arguments.
//!
//! Delivery is at least once: a task may run again if its worker dies before recording the
//! result, so make tasks idempotent.
//!
//! ## Crate features
//! - `test-util`: the backend conformance suite, `taskq::conformance`.
//! - `prometheus` (default): `taskq::telemetry::install_prometheus` and the worker's `/metrics`
//!   endpoint (`TASKQ_METRICS_ADDR`).
//! - `otel`: W3C trace context from producer to worker through `tracing-opentelemetry`
//!   ([`telemetry`]).
//! - `schema`: typed JSON Schemas of every task's and workflow's arguments and output, from
//!   `schemars::JsonSchema` ([`schema`]), for REST APIs and OpenAPI documents.

#![warn(missing_docs)]

pub mod backend;
pub mod canvas;
mod client;
#[cfg(feature = "test-util")]
pub mod conformance;
mod context;
mod error;
pub mod events;
pub mod flow;
pub mod hooks;
pub mod link;
mod message;
pub mod registry;
mod result;
pub mod schedule;
pub mod schema;
mod state;
mod task;
pub mod telemetry;
pub mod unique;
pub mod worker;

pub use client::{delay_many, Client, URL_ENV};
pub use context::Context;
pub use error::{BackendError, BoxError, ConfigError, Error, RegistryError, WorkflowError};
pub use message::{
    Backoff, DeadLetter, DeadLetterReason, Delivery, Envelope, FailureKind, Lease, Outcome,
    Payload, TaskFailure, TaskId, Timestamp,
};
pub use registry::{Registry, TaskEntry};
pub use result::AsyncResult;
pub use schedule::Schedule;
pub use state::{TaskRecord, TaskState};
pub use task::{
    Call, CallOptions, Invoke, Task, TaskOptions, DEFAULT_PRIORITY, DEFAULT_QUEUE,
    DEFAULT_RESULT_TTL, MAX_PRIORITY,
};
pub use worker::{Worker, WorkerBuilder, WorkerHandle, WorkerReport};

pub use taskq_macros::hook;
pub use taskq_macros::task;
pub use taskq_macros::workflow;

/// What generated code uses. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::__link_submit as link_submit;
    pub use crate::canvas::{Partial, TakesInput, Workflow, WorkflowCall, WorkflowEntry};
    pub use crate::registry::TaskEntry;
    pub use futures_util::future::BoxFuture;
    pub use inventory;
    #[cfg(feature = "linkme")]
    pub use linkme;
    pub use serde;
    pub use serde_json;

    use std::fmt;
    use std::future::Future;
    use std::marker::PhantomData;

    use crate::schema::{self, SchemaGen, TaskSchema};

    /// Splits a `Result`-returning task's return type into its output and error.
    pub trait ResultParts {
        /// The success type.
        type Ok;
        /// The error type.
        type Err;
        /// Itself as a `Result`.
        fn into_result(self) -> ::core::result::Result<Self::Ok, Self::Err>;
    }

    impl<T, E> ResultParts for ::core::result::Result<T, E> {
        type Ok = T;
        type Err = E;
        fn into_result(self) -> ::core::result::Result<T, E> {
            self
        }
    }

    /// Runs a sync task body on the blocking pool; a panic there is resumed here, so the worker
    /// reports it like an async task's panic.
    pub async fn run_blocking<R, F>(f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        // The run span goes along, so the task's own `tracing` events carry its fields.
        let span = tracing::Span::current();
        match tokio::task::spawn_blocking(move || span.in_scope(f)).await {
            Ok(r) => r,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => panic!("the blocking task was cancelled"),
            },
        }
    }

    /// A partial call's argument, serialized.
    pub fn partial_field<T: ::serde::Serialize + ?Sized>(
        name: &'static str,
        value: &T,
    ) -> (
        &'static str,
        ::core::result::Result<serde_json::Value, serde_json::Error>,
    ) {
        (name, serde_json::to_value(value))
    }

    /// Boxes a future.
    pub fn boxed<F>(f: F) -> BoxFuture<'static, F::Output>
    where
        F: Future + Send + 'static,
    {
        Box::pin(f)
    }

    /// Stands for the type `T` in an autoref-specialized method call: `(&Probe::<T>::new())
    /// .field_schema(generator)` is [`ViaJsonSchema::field_schema`] when `T: JsonSchema` (with
    /// the feature `schema`), else [`ViaAny::field_schema`].
    pub struct Probe<T: ?Sized>(PhantomData<T>);

    impl<T: ?Sized> Probe<T> {
        /// The probe of `T`.
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Self {
            Self(PhantomData)
        }
    }

    impl<T: ?Sized> fmt::Debug for Probe<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Probe")
        }
    }

    /// The schema of a type that implements `schemars::JsonSchema`: picked first, when it
    /// applies.
    pub trait ViaJsonSchema {
        /// The type's schema, or a `$ref` to its definition in `generator`.
        fn field_schema(&self, generator: &mut SchemaGen) -> serde_json::Value;
    }

    #[cfg(feature = "schema")]
    impl<T: schemars::JsonSchema + ?Sized> ViaJsonSchema for Probe<T> {
        fn field_schema(&self, generator: &mut SchemaGen) -> serde_json::Value {
            generator.subschema_for::<T>()
        }
    }

    /// The schema of any other type: `{}`, any JSON.
    pub trait ViaAny {
        /// `{}`.
        fn field_schema(&self, generator: &mut SchemaGen) -> serde_json::Value;
    }

    impl<T: ?Sized> ViaAny for &Probe<T> {
        fn field_schema(&self, _generator: &mut SchemaGen) -> serde_json::Value {
            serde_json::Value::Object(serde_json::Map::new())
        }
    }

    /// Stands for a workflow's canvas type `C` in an autoref-specialized method call:
    /// `(&&CanvasProbe::<C>::new()).output_schema(generator)` is the schema of
    /// `C::Output` by [`ViaCanvasJsonSchema`] when it implements `JsonSchema`, `{}` by
    /// [`ViaCanvas`] when it does not, and `{}` by [`ViaNotCanvas`] when `C` is no canvas at all
    /// (an error reported once, at the workflow's `type Canvas`, rather than here again).
    pub struct CanvasProbe<C: ?Sized>(PhantomData<C>);

    impl<C: ?Sized> CanvasProbe<C> {
        /// The probe of `C`.
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Self {
            Self(PhantomData)
        }
    }

    impl<C: ?Sized> fmt::Debug for CanvasProbe<C> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("CanvasProbe")
        }
    }

    /// The schema of a canvas's output that implements `JsonSchema`: picked first.
    pub trait ViaCanvasJsonSchema {
        /// The output's schema, or a `$ref` to its definition in `generator`.
        fn output_schema(&self, generator: &mut SchemaGen) -> serde_json::Value;
    }

    #[cfg(feature = "schema")]
    impl<C> ViaCanvasJsonSchema for &CanvasProbe<C>
    where
        C: crate::canvas::Canvas,
        C::Output: schemars::JsonSchema,
    {
        fn output_schema(&self, generator: &mut SchemaGen) -> serde_json::Value {
            generator.subschema_for::<C::Output>()
        }
    }

    /// The schema of any other canvas's output: `{}`.
    pub trait ViaCanvas {
        /// `{}`.
        fn output_schema(&self, generator: &mut SchemaGen) -> serde_json::Value;
    }

    impl<C: crate::canvas::Canvas> ViaCanvas for &&CanvasProbe<C> {
        fn output_schema(&self, _generator: &mut SchemaGen) -> serde_json::Value {
            serde_json::Value::Object(serde_json::Map::new())
        }
    }

    /// The output of a type that is no canvas: `{}`, and no second error.
    pub trait ViaNotCanvas {
        /// `{}`.
        fn output_schema(&self, generator: &mut SchemaGen) -> serde_json::Value;
    }

    impl<C: ?Sized> ViaNotCanvas for CanvasProbe<C> {
        fn output_schema(&self, _generator: &mut SchemaGen) -> serde_json::Value {
            serde_json::Value::Object(serde_json::Map::new())
        }
    }

    /// The schema of a task or workflow: its doc comment, its parameters as `(name, schema,
    /// required)` in declaration order, its output's schema.
    pub fn task_schema<const N: usize>(
        description: ::core::option::Option<&'static str>,
        params: [(&'static str, serde_json::Value, bool); N],
        output: serde_json::Value,
    ) -> TaskSchema {
        let params = params
            .into_iter()
            .map(|(name, schema, required)| schema::Param {
                name,
                schema,
                required,
            })
            .collect();
        TaskSchema {
            description: description.map(str::to_owned),
            args: schema::args_schema(params),
            output,
        }
    }

    /// `{"type":"null"}`: the output of a task that returns nothing.
    pub fn null_schema() -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert(
            "type".to_owned(),
            serde_json::Value::String("null".to_owned()),
        );
        serde_json::Value::Object(object)
    }
}
