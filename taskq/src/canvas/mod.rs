//! Workflows: chains, groups, chords and DAGs of tasks, typed, and run without a coordinator.
//!
//! ```
//! use taskq::canvas::{chord, group};
//!
//! #[taskq::task]
//! async fn fetch(n: u32) -> Vec<u32> { (1..=n).collect() }
//! #[taskq::task]
//! async fn scale(values: Vec<u32>, by: u32) -> Vec<u32> { values.iter().map(|v| v * by).collect() }
//! #[taskq::task]
//! async fn sum(values: Vec<u32>) -> u32 { values.iter().sum() }
//! #[taskq::task]
//! async fn total(sums: Vec<u32>) -> u32 { sums.iter().sum() }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), taskq::Error> {
//! let client = taskq::Client::memory();
//! let worker = taskq::Worker::builder().client(client.clone()).spawn()?;
//!
//! // fetch(3) = [1, 2, 3] -> scale by 10 -> sum = 60
//! let chain = fetch::new(3).then(scale::partial(10)).then(sum::partial());
//! assert_eq!(chain.delay_on(&client).await?.get().await?, 60);
//!
//! // A chord: three chains in parallel, then `total` of their sums once all are done.
//! let members = (1..=3).map(|n| fetch::new(n).then(sum::partial())).collect::<Vec<_>>();
//! let handle = chord(group(members), total::partial()).delay_on(&client).await?;
//! assert_eq!(handle.get().await?, 1 + 3 + 6);
//! worker.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`Call::then`](crate::Call::then) chains: the output of one step becomes the *first*
//!   argument of the next, given as a partial call (`scale::partial(10)` is `scale` with every
//!   argument but the first). The compiler checks that they fit: a chain whose types don't
//!   match does not compile.
//! - [`group`] runs canvases in parallel; its output is a `Vec` (a `Vec` of canvases) or a
//!   tuple (a tuple of canvases of different types).
//! - [`chord`] is a group followed by a callback that receives the group's outputs once every
//!   member has finished, counted by the backend ([`Backend::join`](crate::backend::Backend::join)),
//!   never by a polling task; exactly once, also when a worker dies mid-chord.
//! - [`Dag`] names steps that depend on steps declared before them, so cycles cannot be
//!   written; a step with several dependencies waits for all of them, like a chord.
//! - A failing step (after its own retries) fails the whole workflow with the step's name and
//!   error; later steps never run; [`on_error`](Chain::on_error) attaches an error callback.
//!   Revoking the workflow's handle stops the steps that have not started.
//!
//! The plan of the whole workflow travels in each step's message (see [`plan`]): no
//! coordinator process, and any worker that has the tasks can run any step.

pub mod plan;

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::Error;
use crate::message::Payload;
use crate::result::AsyncResult;
use crate::task::{Call, CallOptions, Task};

pub use plan::{Outputs, PlanBuilder, WorkflowFailure};

/// A part of a workflow that needs no input: a task call, a chain starting with one, a group of
/// such, a DAG.
pub trait Canvas: Send + Sized + 'static {
    /// What it produces.
    type Output: DeserializeOwned + Send + 'static;

    /// Adds its steps to a plan; returns where its output comes from.
    #[doc(hidden)]
    fn plan(self, builder: &mut PlanBuilder) -> Result<Outputs, Error>;
}

/// A part of a workflow that takes an input of type `In`: a partial call, a chain starting with
/// one, a group of such.
pub trait Continues<In>: Send + Sized + 'static {
    /// What it produces.
    type Output: DeserializeOwned + Send + 'static;

    /// Adds its steps to a plan, fed by `input`; returns where its output comes from.
    #[doc(hidden)]
    fn plan_after(self, builder: &mut PlanBuilder, input: Outputs) -> Result<Outputs, Error>;
}

/// A task whose first argument can come from the previous step of a workflow. `#[task]`
/// implements it for every task with at least one argument, and generates `partial(...)`.
pub trait TakesInput: Task {
    /// The type of the first argument.
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// The first argument's name.
    const INPUT: &'static str;
}

/// A task given every argument but its first, which the previous step of a workflow provides:
/// `scale::partial(10)` for `async fn scale(values: Vec<u32>, by: u32)`.
#[must_use = "a partial call does nothing until it is part of a workflow that is sent"]
pub struct Partial<T: TakesInput> {
    rest: Result<Map<String, Value>, serde_json::Error>,
    options: CallOptions,
    _task: PhantomData<fn() -> T>,
}

impl<T: TakesInput> std::fmt::Debug for Partial<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partial")
            .field("task", &T::NAME)
            .field("rest", &self.rest)
            .finish_non_exhaustive()
    }
}

impl<T: TakesInput> Partial<T> {
    /// A partial call from the other arguments, by name (what `#[task]`'s `partial` calls).
    #[doc(hidden)]
    pub fn from_fields<I>(fields: I) -> Self
    where
        I: IntoIterator<Item = (&'static str, Result<Value, serde_json::Error>)>,
    {
        let rest = fields
            .into_iter()
            .map(|(name, value)| value.map(|v| (name.to_owned(), v)))
            .collect();
        Self {
            rest,
            options: CallOptions::default(),
            _task: PhantomData,
        }
    }

    /// Sends the step to `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.options.queue = Some(queue.into());
        self
    }

    /// Sets the step's priority (0 to 9).
    pub fn priority(mut self, priority: u8) -> Self {
        self.options.priority = Some(priority.min(crate::task::MAX_PRIORITY));
        self
    }

    /// Allows the step this many attempts.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.options.max_attempts = Some(attempts.max(1));
        self
    }

    /// Limits each attempt of the step.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Chains `next` after this step.
    pub fn then<B: Continues<T::Output>>(self, next: B) -> Chain<Self, B> {
        Chain { first: self, next }
    }
}

impl<T: TakesInput> Continues<T::Input> for Partial<T> {
    type Output = T::Output;

    fn plan_after(self, builder: &mut PlanBuilder, input: Outputs) -> Result<Outputs, Error> {
        let rest = self.rest.map_err(|source| Error::Encode {
            what: "partial call arguments",
            source,
        })?;
        let args = Payload::encode(&rest).map_err(|source| Error::Encode {
            what: "partial call arguments",
            source,
        })?;
        let template = crate::task::envelope_for::<T>(args, self.options);
        let i = builder.add(
            T::NAME.to_owned(),
            template,
            Some(T::INPUT.to_owned()),
            Some(&input),
        )?;
        Ok(Outputs::One(i))
    }
}

impl<T: Task> Canvas for Call<T> {
    type Output = T::Output;

    fn plan(self, builder: &mut PlanBuilder) -> Result<Outputs, Error> {
        let template = self.into_envelope()?;
        let i = builder.add(template.task.clone(), template, None, None)?;
        Ok(Outputs::One(i))
    }
}

impl<T: Task> Call<T> {
    /// Chains `next` after this task: this task's output becomes `next`'s first argument.
    ///
    /// ```
    /// #[taskq::task]
    /// async fn parse(text: String) -> i64 { text.trim().parse().unwrap_or(0) }
    /// #[taskq::task]
    /// async fn double(n: i64) -> i64 { n * 2 }
    ///
    /// let chain = parse::new(" 21 ".into()).then(double::partial());
    /// # let _ = chain;
    /// ```
    pub fn then<B: Continues<T::Output>>(self, next: B) -> Chain<Self, B> {
        Chain { first: self, next }
    }
}

/// Two parts run one after the other, the output of the first feeding the second.
#[must_use = "a workflow does nothing until it is sent"]
#[derive(Debug)]
pub struct Chain<A, B> {
    first: A,
    next: B,
}

impl<A: Canvas, B: Continues<A::Output>> Canvas for Chain<A, B> {
    type Output = B::Output;

    fn plan(self, builder: &mut PlanBuilder) -> Result<Outputs, Error> {
        let out = self.first.plan(builder)?;
        self.next.plan_after(builder, out)
    }
}

impl<X, A: Continues<X>, B: Continues<A::Output>> Continues<X> for Chain<A, B> {
    type Output = B::Output;

    fn plan_after(self, builder: &mut PlanBuilder, input: Outputs) -> Result<Outputs, Error> {
        let out = self.first.plan_after(builder, input)?;
        self.next.plan_after(builder, out)
    }
}

impl<A, B: Step> Chain<A, B> {
    /// Chains `next` after this chain: the chain's output becomes `next`'s first argument.
    pub fn then<C: Continues<B::Output>>(self, next: C) -> Chain<Self, C> {
        Chain { first: self, next }
    }
}

/// Parts run in parallel: a `Vec` of one type (output: a `Vec`), or a tuple (output: a tuple).
#[must_use = "a workflow does nothing until it is sent"]
#[derive(Debug)]
pub struct Group<G> {
    members: G,
}

/// Runs `members` in parallel: a `Vec` of canvases of one type, or a tuple of up to eight
/// canvases of different types.
pub fn group<G>(members: G) -> Group<G> {
    Group { members }
}

/// A group followed by `callback`, which receives the group's outputs once every member has
/// finished. The same as `group.then(callback)`.
pub fn chord<G, C>(header: Group<G>, callback: C) -> Chain<Group<G>, C>
where
    Group<G>: Canvas,
    C: Continues<<Group<G> as Canvas>::Output>,
{
    Chain {
        first: header,
        next: callback,
    }
}

impl<G> Group<G>
where
    Self: Step,
{
    /// Runs `next` with the group's outputs once every member has finished (a chord).
    pub fn then<C: Continues<<Self as Step>::Output>>(self, next: C) -> Chain<Self, C> {
        Chain { first: self, next }
    }
}

/// Anything in a workflow, typed by what it produces: it lets `.then(..)` check, where it is
/// written, that the next step takes that as its first argument.
pub trait Step {
    /// What it produces.
    type Output;
}

impl<T: Task> Step for Call<T> {
    type Output = T::Output;
}

impl<T: TakesInput> Step for Partial<T> {
    type Output = T::Output;
}

impl<A, B: Step> Step for Chain<A, B> {
    type Output = B::Output;
}

impl<C: Step> Step for Group<Vec<C>> {
    type Output = Vec<C::Output>;
}

impl<P: Step> Step for Sequence<P> {
    type Output = P::Output;
}

impl<T> Step for BoxedCanvas<T> {
    type Output = T;
}

impl<T> Step for DagWorkflow<T> {
    type Output = T;
}

macro_rules! tuple_steps {
    ($(($($name:ident),+)),+ $(,)?) => {$(
        impl<$($name: Step),+> Step for Group<($($name,)+)> {
            type Output = ($($name::Output,)+);
        }
    )+};
}

tuple_steps!(
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H),
);

fn gather_each(builder: &mut PlanBuilder, outs: Vec<Outputs>) -> Result<Outputs, Error> {
    if outs.is_empty() {
        return Err(crate::error::WorkflowError::EmptyGroup.into());
    }
    let mut steps = Vec::with_capacity(outs.len());
    for out in outs {
        let queue = match &out {
            Outputs::One(i) => builder.queue_of(*i),
            Outputs::Many(v) => builder.queue_of(v.first().copied().unwrap_or(0)),
        };
        steps.push(builder.single(out, &queue)?);
    }
    Ok(Outputs::Many(steps))
}

impl<C: Canvas> Canvas for Group<Vec<C>> {
    type Output = Vec<C::Output>;

    fn plan(self, builder: &mut PlanBuilder) -> Result<Outputs, Error> {
        let outs = self
            .members
            .into_iter()
            .map(|m| m.plan(builder))
            .collect::<Result<Vec<_>, _>>()?;
        gather_each(builder, outs)
    }
}

impl<X, C: Continues<X>> Continues<X> for Group<Vec<C>> {
    type Output = Vec<C::Output>;

    fn plan_after(self, builder: &mut PlanBuilder, input: Outputs) -> Result<Outputs, Error> {
        let outs = self
            .members
            .into_iter()
            .map(|m| m.plan_after(builder, input.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        gather_each(builder, outs)
    }
}

macro_rules! tuple_groups {
    ($(($($name:ident $var:ident),+)),+ $(,)?) => {$(
        impl<$($name: Canvas),+> Canvas for Group<($($name,)+)> {
            type Output = ($($name::Output,)+);

            fn plan(self, builder: &mut PlanBuilder) -> Result<Outputs, Error> {
                let ($($var,)+) = self.members;
                let outs = vec![$($var.plan(builder)?),+];
                gather_each(builder, outs)
            }
        }

        impl<X, $($name: Continues<X>),+> Continues<X> for Group<($($name,)+)> {
            type Output = ($($name::Output,)+);

            fn plan_after(self, builder: &mut PlanBuilder, input: Outputs) -> Result<Outputs, Error> {
                let ($($var,)+) = self.members;
                let outs = vec![$($var.plan_after(builder, input.clone())?),+];
                gather_each(builder, outs)
            }
        }
    )+};
}

tuple_groups!(
    (A a, B b),
    (A a, B b, C c),
    (A a, B b, C c, D d),
    (A a, B b, C c, D d, E e),
    (A a, B b, C c, D d, E e, F f),
    (A a, B b, C c, D d, E e, F f, G g),
    (A a, B b, C c, D d, E e, F f, G g, H h),
);

/// Steps of one type run one after the other, each taking the previous one's output: a chain
/// whose length is known only at run time.
///
/// ```
/// use taskq::canvas::sequence;
///
/// #[taskq::task]
/// async fn inc(n: u64) -> u64 { n + 1 }
///
/// let chain = inc::new(0).then(sequence((0..9).map(|_| inc::partial()).collect()));
/// # let _ = chain;
/// ```
#[must_use = "a workflow does nothing until it is sent"]
#[derive(Debug)]
pub struct Sequence<P> {
    steps: Vec<P>,
}

/// Runs `steps` one after the other (see [`Sequence`]).
pub fn sequence<P>(steps: Vec<P>) -> Sequence<P> {
    Sequence { steps }
}

impl<X, P> Continues<X> for Sequence<P>
where
    X: DeserializeOwned + Send + 'static,
    P: Continues<X, Output = X>,
{
    type Output = X;

    fn plan_after(self, builder: &mut PlanBuilder, input: Outputs) -> Result<Outputs, Error> {
        let mut out = input;
        for step in self.steps {
            out = step.plan_after(builder, out)?;
        }
        Ok(out)
    }
}

/// A workflow with an error callback: a task that receives a [`WorkflowFailure`] when a step
/// fails for good.
#[must_use = "a workflow does nothing until it is sent"]
#[derive(Debug)]
pub struct OnError<C, H: TakesInput> {
    canvas: C,
    handler: Partial<H>,
}

impl<C: Canvas, H: TakesInput<Input = WorkflowFailure>> Canvas for OnError<C, H> {
    type Output = C::Output;

    fn plan(self, builder: &mut PlanBuilder) -> Result<Outputs, Error> {
        let out = self.canvas.plan(builder)?;
        let rest = self.handler.rest.map_err(|source| Error::Encode {
            what: "error callback arguments",
            source,
        })?;
        let args = Payload::encode(&rest).map_err(|source| Error::Encode {
            what: "error callback arguments",
            source,
        })?;
        builder.on_error(plan::StepPlan {
            name: H::NAME.to_owned(),
            template: crate::task::envelope_for::<H>(args, self.handler.options),
            input: Some(H::INPUT.to_owned()),
            inputs: 1,
            edges: Vec::new(),
            join: false,
            named: false,
        });
        Ok(out)
    }
}

/// Builds the plan of `canvas` and sends its first steps with `client`.
///
/// # Errors
/// [`Error::Workflow`] for a canvas that cannot run (an empty group, two DAG steps with one
/// name); [`Error::Encode`]; the backend's error.
pub async fn start<C: Canvas>(client: &Client, canvas: C) -> Result<AsyncResult<C::Output>, Error> {
    let mut builder = PlanBuilder::default();
    let out = canvas.plan(&mut builder)?;
    let queue = match &out {
        Outputs::One(i) => builder.queue_of(*i),
        Outputs::Many(v) => builder.queue_of(v.first().copied().unwrap_or(0)),
    };
    let last = builder.single(out, &queue)?;
    let plan = builder.finish(last)?;
    let roots = plan.roots()?;
    client.send_envelopes(roots).await?;
    Ok(client.result(plan.workflow))
}

macro_rules! sendable {
    ($($ty:ident <$($g:ident),+>),+ $(,)?) => {$(
        impl<$($g),+> $ty<$($g),+>
        where
            Self: Canvas,
        {
            /// Sends the workflow with the current client ([`Client::current`]).
            ///
            /// # Errors
            /// As [`start`].
            pub async fn delay(self) -> Result<AsyncResult<<Self as Canvas>::Output>, Error> {
                start(&Client::current().await?, self).await
            }

            /// Sends the workflow with `client`.
            ///
            /// # Errors
            /// As [`start`].
            pub async fn delay_on(
                self,
                client: &Client,
            ) -> Result<AsyncResult<<Self as Canvas>::Output>, Error> {
                start(client, self).await
            }

            /// Runs `handler` with a [`WorkflowFailure`] if a step fails for good.
            pub fn on_error<H: TakesInput<Input = WorkflowFailure>>(
                self,
                handler: Partial<H>,
            ) -> OnError<Self, H> {
                OnError { canvas: self, handler }
            }
        }
    )+};
}

sendable!(Chain<A, B>, Group<G>);

impl<C: Canvas, H: TakesInput<Input = WorkflowFailure>> OnError<C, H> {
    /// Sends the workflow with the current client.
    ///
    /// # Errors
    /// As [`start`].
    pub async fn delay(self) -> Result<AsyncResult<C::Output>, Error> {
        start(&Client::current().await?, self).await
    }

    /// Sends the workflow with `client`.
    ///
    /// # Errors
    /// As [`start`].
    pub async fn delay_on(self, client: &Client) -> Result<AsyncResult<C::Output>, Error> {
        start(client, self).await
    }
}

/// The built-in task that gathers a group's outputs into one array (the output of a group
/// that ends a workflow, or a group inside a group).
#[derive(serde::Serialize, serde::Deserialize, Debug)]
#[doc(hidden)]
pub struct Gather {
    items: Vec<Value>,
}

impl Task for Gather {
    const NAME: &'static str = plan::GATHER_TASK;
    const OPTIONS: crate::task::TaskOptions = crate::task::TaskOptions::DEFAULT;
    type Output = Vec<Value>;
    type Error = std::convert::Infallible;
    type Return = Vec<Value>;

    fn run(
        self,
        _ctx: crate::context::Context,
    ) -> impl std::future::Future<Output = Result<Self::Output, Self::Error>> + Send {
        std::future::ready(Ok(self.items))
    }
}

/// The gather step's body, run by the worker itself (it is not in any registry, so it adds no
/// queue to a worker's defaults).
pub(crate) static GATHER_ENTRY: crate::registry::TaskEntry =
    crate::registry::TaskEntry::of::<Gather>(file!(), line!());

mod boxed;
mod dag;
mod workflow;
pub use boxed::BoxedCanvas;
pub use dag::{Dag, DagWorkflow, Deps, StepRef};
pub(crate) use workflow::START_WORKFLOW_ENTRY;
pub use workflow::{
    all as workflows, find as find_workflow, StartWorkflow, Workflow, WorkflowCall, WorkflowEntry,
    START_WORKFLOW_TASK,
};
