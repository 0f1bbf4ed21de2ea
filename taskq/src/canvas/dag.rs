//! [`Dag`]: named steps, each depending only on steps declared before it.

use std::marker::PhantomData;

use super::plan::{Outputs, PlanBuilder};
use super::{Canvas, Continues};
use crate::client::Client;
use crate::error::Error;
use crate::result::AsyncResult;

/// A dependency graph of named steps. A step can only depend on steps already added (it takes
/// their [`StepRef`]s), so a cycle cannot be written. Independent branches run in parallel; a
/// step with several dependencies waits for all of them, like a chord, and receives their
/// outputs as a tuple.
///
/// ```
/// use taskq::canvas::Dag;
///
/// #[taskq::task]
/// async fn load(n: u32) -> Vec<u32> { (1..=n).collect() }
/// #[taskq::task]
/// async fn sum(values: Vec<u32>) -> u32 { values.iter().sum() }
/// #[taskq::task]
/// async fn max(values: Vec<u32>) -> u32 { values.iter().copied().max().unwrap_or(0) }
/// #[taskq::task]
/// async fn report(stats: (u32, u32)) -> String { format!("sum {} max {}", stats.0, stats.1) }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq::Error> {
/// let client = taskq::Client::memory();
/// let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
///
/// let mut dag = Dag::new();
/// let data = dag.step("load", load::new(4));
/// let total = dag.after("sum", data, sum::partial());
/// let top = dag.after("max", data, max::partial());
/// let out = dag.after("report", (total, top), report::partial());
/// let handle = dag.finish(out).delay_on(&client).await?;
/// assert_eq!(handle.get().await?, "sum 10 max 4");
/// worker.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Dag {
    builder: PlanBuilder,
    error: Option<Error>,
}

/// A step of a [`Dag`], typed by its output.
#[derive(Debug)]
pub struct StepRef<T> {
    step: u32,
    _output: PhantomData<fn() -> T>,
}

impl<T> Clone for StepRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for StepRef<T> {}

/// What a DAG step can depend on: one step, or a tuple of steps (whose outputs it receives as a
/// tuple).
pub trait Deps {
    /// The outputs the dependent step receives.
    type Values;
    /// Where they come from.
    #[doc(hidden)]
    fn outputs(&self) -> Outputs;
}

impl<T> Deps for StepRef<T> {
    type Values = T;
    fn outputs(&self) -> Outputs {
        Outputs::One(self.step)
    }
}

macro_rules! tuple_deps {
    ($(($($name:ident $idx:tt),+)),+ $(,)?) => {$(
        impl<$($name),+> Deps for ($(StepRef<$name>,)+) {
            type Values = ($($name,)+);
            fn outputs(&self) -> Outputs {
                Outputs::Many(vec![$(self.$idx.step),+])
            }
        }
    )+};
}

tuple_deps!(
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5),
);

impl Dag {
    /// An empty DAG.
    pub fn new() -> Self {
        Self::default()
    }

    fn named<T>(&mut self, name: &str, out: Result<Outputs, Error>) -> StepRef<T> {
        let step = match out.and_then(|o| {
            let queue = match &o {
                Outputs::One(i) => self.builder.queue_of(*i),
                Outputs::Many(v) => self.builder.queue_of(v.first().copied().unwrap_or(0)),
            };
            self.builder.single(o, &queue)
        }) {
            Ok(step) => {
                self.builder.rename(step, name);
                step
            }
            Err(e) => {
                self.error.get_or_insert(e);
                0
            }
        };
        StepRef {
            step,
            _output: PhantomData,
        }
    }

    /// Adds a step that depends on nothing: it starts with the workflow.
    pub fn step<C: Canvas>(&mut self, name: &str, canvas: C) -> StepRef<C::Output> {
        let out = canvas.plan(&mut self.builder);
        self.named(name, out)
    }

    /// Adds a step that runs once `deps` have finished, with their outputs as its input.
    pub fn after<D: Deps, C: Continues<D::Values>>(
        &mut self,
        name: &str,
        deps: D,
        next: C,
    ) -> StepRef<C::Output> {
        let out = next.plan_after(&mut self.builder, deps.outputs());
        self.named(name, out)
    }

    /// The workflow whose output is `last`'s output. Steps that do not lead to `last` still
    /// run.
    pub fn finish<T>(self, last: StepRef<T>) -> DagWorkflow<T> {
        DagWorkflow {
            dag: self,
            last: last.step,
            _output: PhantomData,
        }
    }
}

/// A finished [`Dag`], ready to send.
#[must_use = "a workflow does nothing until it is sent"]
#[derive(Debug)]
pub struct DagWorkflow<T> {
    dag: Dag,
    last: u32,
    _output: PhantomData<fn() -> T>,
}

impl<T: serde::de::DeserializeOwned + Send + 'static> Canvas for DagWorkflow<T> {
    type Output = T;

    fn plan(self, builder: &mut PlanBuilder) -> Result<Outputs, Error> {
        if let Some(e) = self.dag.error {
            return Err(e);
        }
        let offset = builder.append(self.dag.builder)?;
        Ok(Outputs::One(offset + self.last))
    }
}

impl<T: serde::de::DeserializeOwned + Send + 'static> DagWorkflow<T> {
    /// Sends the workflow with the current client.
    ///
    /// # Errors
    /// As [`super::start`].
    pub async fn delay(self) -> Result<AsyncResult<T>, Error> {
        super::start(&Client::current().await?, self).await
    }

    /// Sends the workflow with `client`.
    ///
    /// # Errors
    /// As [`super::start`].
    pub async fn delay_on(self, client: &Client) -> Result<AsyncResult<T>, Error> {
        super::start(client, self).await
    }
}
