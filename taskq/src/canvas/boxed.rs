//! [`BoxedCanvas`]: a canvas whose type is erased, for a workflow function that returns
//! `impl Canvas<Output = T>` (a type that cannot be named in `Workflow::Canvas`).

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::plan::{Outputs, PlanBuilder};
use super::{start, Canvas, Chain, Continues, OnError, Partial, TakesInput, WorkflowFailure};
use crate::client::Client;
use crate::error::Error;
use crate::result::AsyncResult;

/// A canvas's `plan`, with the canvas inside.
type PlanFn = dyn FnOnce(&mut PlanBuilder) -> Result<Outputs, Error> + Send;

/// Any canvas with output `T`, behind a box: what `#[workflow]` builds from a function that
/// returns `impl Canvas<Output = T>`.
///
/// ```
/// use taskq::canvas::{BoxedCanvas, Canvas};
///
/// #[taskq::task]
/// async fn fetch(n: u32) -> Vec<u32> { (1..=n).collect() }
/// #[taskq::task]
/// async fn sum(values: Vec<u32>) -> u32 { values.iter().sum() }
///
/// fn summed(n: u32) -> impl Canvas<Output = u32> {
///     fetch::new(n).then(sum::partial())
/// }
///
/// // One type for canvases of different shapes, with the same output:
/// let canvases: Vec<BoxedCanvas<u32>> = vec![
///     BoxedCanvas::new(summed(3)),
///     BoxedCanvas::new(sum::new(vec![1, 2])),
/// ];
/// # let _ = canvases;
/// ```
#[must_use = "a workflow does nothing until it is sent"]
pub struct BoxedCanvas<T> {
    plan: Box<PlanFn>,
    _output: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for BoxedCanvas<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxedCanvas")
            .field("output", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> BoxedCanvas<T> {
    /// Boxes `canvas`.
    pub fn new<C: Canvas<Output = T>>(canvas: C) -> Self {
        Self {
            plan: Box::new(move |builder| canvas.plan(builder)),
            _output: PhantomData,
        }
    }

    /// Chains `next` after this canvas: its output becomes `next`'s first argument.
    pub fn then<B: Continues<T>>(self, next: B) -> Chain<Self, B> {
        Chain { first: self, next }
    }

    /// Runs `handler` with a [`WorkflowFailure`] if a step fails for good.
    pub fn on_error<H: TakesInput<Input = WorkflowFailure>>(
        self,
        handler: Partial<H>,
    ) -> OnError<Self, H> {
        OnError {
            canvas: self,
            handler,
        }
    }

    /// Sends the workflow with the current client ([`Client::current`]).
    ///
    /// # Errors
    /// As [`start`].
    pub async fn delay(self) -> Result<AsyncResult<T>, Error> {
        start(&Client::current().await?, self).await
    }

    /// Sends the workflow with `client`.
    ///
    /// # Errors
    /// As [`start`].
    pub async fn delay_on(self, client: &Client) -> Result<AsyncResult<T>, Error> {
        start(client, self).await
    }
}

impl<T: DeserializeOwned + Send + 'static> Canvas for BoxedCanvas<T> {
    type Output = T;

    fn plan(self, builder: &mut PlanBuilder) -> Result<Outputs, Error> {
        (self.plan)(builder)
    }
}
