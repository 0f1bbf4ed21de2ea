//! `#[workflow]`: a function that builds a canvas, registered by name so that any client (or
//! another language, through the `taskq.start_workflow` task) can start it with JSON
//! arguments.

use std::fmt;
use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Canvas;
use crate::client::Client;
use crate::error::{Error, WorkflowError};
use crate::message::{Payload, TaskId};
use crate::result::AsyncResult;
use crate::schema::{SchemaFn, SchemaGen, TaskSchema};

/// A workflow: a serializable struct of arguments and the canvas it builds. `#[workflow]`
/// implements it.
///
/// ```
/// use taskq::canvas::Canvas;
///
/// #[taskq::task]
/// async fn fetch(n: u32) -> Vec<u32> { (1..=n).collect() }
/// #[taskq::task]
/// async fn sum(values: Vec<u32>) -> u32 { values.iter().sum() }
///
/// /// Sums 1..=n, in two steps.
/// #[taskq::workflow]
/// fn summed(n: u32) -> impl Canvas<Output = u32> {
///     fetch::new(n).then(sum::partial())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
/// assert_eq!(summed::new(4).delay_on(&client).await?.get().await?, 10);
///
/// // By name, with JSON arguments, as a CLI or an HTTP handler would:
/// let args = taskq::Payload::encode(&serde_json::json!({ "n": 3 })).unwrap();
/// let handle = client.start_workflow(<summed as taskq::canvas::Workflow>::NAME, args).await?;
/// assert_eq!(handle.get().await?, serde_json::json!(6));
/// worker.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub trait Workflow: Serialize + DeserializeOwned + Send + 'static {
    /// The name it is registered and started under.
    const NAME: &'static str;
    /// The canvas it builds.
    type Canvas: Canvas;
    /// Builds the canvas.
    fn build(self) -> Self::Canvas;

    /// The workflow's schemas: `#[workflow]` writes this (see [`crate::schema`]); read it
    /// through [`WorkflowEntry::schema`]. By default: any JSON arguments and output.
    #[doc(hidden)]
    fn __schema(generator: &mut SchemaGen) -> TaskSchema {
        let _ = generator;
        TaskSchema::any()
    }
}

/// A registered workflow: its name, where it is declared, and how to start it from JSON.
pub struct WorkflowEntry {
    /// The workflow's name.
    pub name: &'static str,
    /// Starts it from its JSON arguments; returns the workflow's id.
    pub start: fn(Client, Payload) -> BoxFuture<'static, Result<TaskId, Error>>,
    /// The source file that declares it.
    pub file: &'static str,
    /// The line.
    pub line: u32,
    /// The workflow's JSON Schemas: its doc comment, its arguments as an object, the canvas's
    /// output (see [`crate::schema`]).
    ///
    /// ```
    /// use taskq::canvas::Canvas;
    ///
    /// #[taskq::task]
    /// async fn count(n: u32) -> u32 { n }
    ///
    /// /// Counts to `n`.
    /// #[taskq::workflow]
    /// fn counting(n: u32) -> impl Canvas<Output = u32> {
    ///     count::new(n)
    /// }
    ///
    /// let name = <counting as taskq::canvas::Workflow>::NAME;
    /// let entry = taskq::canvas::workflows().find(|e| e.name == name).unwrap();
    /// let schema = (entry.schema)(&mut taskq::schema::SchemaGen::new());
    /// assert_eq!(schema.description.as_deref(), Some("Counts to `n`."));
    /// assert_eq!(schema.args["required"], serde_json::json!(["n"]));
    /// ```
    pub schema: SchemaFn,
}

impl fmt::Debug for WorkflowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowEntry")
            .field("name", &self.name)
            .field("at", &format_args!("{}:{}", self.file, self.line))
            .finish()
    }
}

impl WorkflowEntry {
    /// The entry of workflow `W`, declared at `file:line`.
    pub const fn of<W: Workflow>(file: &'static str, line: u32) -> Self {
        WorkflowEntry {
            name: W::NAME,
            start: start_erased::<W>,
            file,
            line,
            schema: W::__schema,
        }
    }
}

fn start_erased<W: Workflow>(
    client: Client,
    args: Payload,
) -> BoxFuture<'static, Result<TaskId, Error>> {
    Box::pin(async move {
        let w: W = args.decode().map_err(|source| Error::DecodeArguments {
            what: W::NAME,
            source,
        })?;
        let handle = super::start(&client, w.build()).await?;
        Ok(handle.id())
    })
}

/// The registered workflow named `name`.
pub fn find(name: &str) -> Option<&'static WorkflowEntry> {
    all().find(|e| e.name == name)
}

/// Every workflow linked into the binary, in no particular order (a name declared twice is
/// there twice: [`find`] takes the first).
///
/// ```
/// #[taskq::task]
/// async fn one() -> u32 { 1 }
///
/// #[taskq::workflow(name = "docs.just_one")]
/// fn just_one() -> taskq::Call<one> {
///     one::new()
/// }
///
/// assert!(taskq::canvas::workflows().any(|e| e.name == "docs.just_one"));
/// ```
pub fn all() -> impl Iterator<Item = &'static WorkflowEntry> {
    crate::link::workflows()
}

/// A workflow with its arguments, ready to send.
#[must_use = "a workflow does nothing until it is sent"]
pub struct WorkflowCall<W: Workflow> {
    workflow: W,
    _w: PhantomData<fn() -> W>,
}

impl<W: Workflow + fmt::Debug> fmt::Debug for WorkflowCall<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowCall")
            .field("workflow", &self.workflow)
            .finish()
    }
}

impl<W: Workflow> WorkflowCall<W> {
    /// A call of `workflow`.
    pub fn new(workflow: W) -> Self {
        Self {
            workflow,
            _w: PhantomData,
        }
    }

    /// The canvas it builds.
    pub fn build(self) -> W::Canvas {
        self.workflow.build()
    }

    /// Sends the workflow with the current client.
    ///
    /// # Errors
    /// As [`super::start`].
    pub async fn delay(self) -> Result<AsyncResult<<W::Canvas as Canvas>::Output>, Error> {
        super::start(&Client::current().await?, self.workflow.build()).await
    }

    /// Sends the workflow with `client`.
    ///
    /// # Errors
    /// As [`super::start`].
    pub async fn delay_on(
        self,
        client: &Client,
    ) -> Result<AsyncResult<<W::Canvas as Canvas>::Output>, Error> {
        super::start(client, self.workflow.build()).await
    }
}

impl Client {
    /// Starts the workflow registered as `name` with JSON arguments (an object with the
    /// workflow function's parameters). The workflow must be linked into this binary; from
    /// elsewhere (another language, a binary without it), send the `taskq.start_workflow` task
    /// to a worker that has it.
    ///
    /// # Errors
    /// [`WorkflowError::UnknownWorkflow`]; [`Error::DecodeArguments`] if the arguments do not
    /// fit; as [`super::start`].
    pub async fn start_workflow(
        &self,
        name: &str,
        args: Payload,
    ) -> Result<AsyncResult<serde_json::Value>, Error> {
        let entry = find(name).ok_or_else(|| WorkflowError::UnknownWorkflow(name.to_owned()))?;
        let id = (entry.start)(self.clone(), args).await?;
        Ok(self.result(id))
    }
}

/// The built-in task that starts a workflow by name: what a producer that does not link the
/// workflow (another service, another language) sends to a worker that does. Its result is the
/// workflow's id.
#[derive(Serialize, serde::Deserialize, Debug)]
pub struct StartWorkflow {
    /// The workflow's registered name.
    pub name: String,
    /// Its arguments.
    pub args: serde_json::Value,
}

/// The name of [`StartWorkflow`].
pub const START_WORKFLOW_TASK: &str = "taskq.start_workflow";

impl crate::task::Task for StartWorkflow {
    const NAME: &'static str = START_WORKFLOW_TASK;
    const OPTIONS: crate::task::TaskOptions = crate::task::TaskOptions::DEFAULT;
    type Output = TaskId;
    type Error = Error;
    type Return = Result<TaskId, Error>;

    async fn run(self, ctx: crate::context::Context) -> Result<Self::Output, Self::Error> {
        let client = match ctx.client() {
            Some(c) => c.clone(),
            None => Client::current().await?,
        };
        let args = Payload::encode(&self.args).map_err(|source| Error::Encode {
            what: "workflow arguments",
            source,
        })?;
        let handle = client.start_workflow(&self.name, args).await?;
        Ok(handle.id())
    }

    fn __schema(_generator: &mut SchemaGen) -> TaskSchema {
        use crate::schema::{args_schema, Param};
        use serde_json::json;
        TaskSchema {
            description: Some(
                "Starts the workflow registered as `name` with the JSON arguments `args`; its \
                 result is the workflow's id."
                    .to_owned(),
            ),
            args: args_schema(vec![
                Param {
                    name: "name",
                    schema: json!({ "type": "string", "description": "The workflow's registered name." }),
                    required: true,
                },
                Param {
                    name: "args",
                    schema: json!({ "description": "Its arguments." }),
                    required: true,
                },
            ]),
            output: json!({ "type": "string", "format": "uuid" }),
        }
    }
}

/// Runs [`StartWorkflow`] in a worker without adding its queue to the worker's defaults.
pub(crate) static START_WORKFLOW_ENTRY: crate::registry::TaskEntry =
    crate::registry::TaskEntry::of::<StartWorkflow>(file!(), line!());
