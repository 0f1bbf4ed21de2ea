//! What a workflow is on the wire: a plan of steps and the edges between them, carried in
//! every step's message, so no coordinator process is needed.
//!
//! ```text
//!   plan = steps[0..n], each: a message template (id fixed at start), the argument that
//!          receives its input (if any), how many inputs it waits for, and its out-edges.
//!
//!   step i succeeds with v ──► for each edge (i → j, slot s):
//!        j waits for 1 input  ──► j's message with v as its input
//!        j waits for k inputs ──► backend.join("wf:<id>:<j>", s, k, v)
//!                                     └─ the k-th distinct slot returns all values ──► j's
//!                                        message with [v0, .., vk-1] as its input
//!   then publish_once(those messages) (ids fixed at start: a step that runs twice never
//!   starts its successors twice), then complete step i.
//! ```
//!
//! The last step's id is the workflow's id, so the workflow's result is that step's result.
//! When a step fails for good, the workflow's result is resolved as that failure at once, and
//! the steps still to come see it and stand down.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, WorkflowError};
use crate::message::{Envelope, FailureKind, Payload, TaskFailure, TaskId};

/// How long joins and publish-once markers of a workflow are kept: a week.
pub(crate) const WORKFLOW_STATE_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The name of the built-in task that gathers a group's outputs into one array.
pub const GATHER_TASK: &str = "taskq.gather";

/// One edge: the output of a step goes to `slot` of step `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// The receiving step.
    pub to: u32,
    /// Which of its inputs.
    pub slot: u32,
}

/// One step of a plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepPlan {
    /// The step's name (the task name, or the name given in a DAG).
    pub name: String,
    /// The message to send, without its input.
    pub template: Envelope,
    /// The argument that receives the input, for a step that takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// How many inputs it waits for (0: it starts with the workflow; 1: a chain link; more: a
    /// join, and its input is the array of them in slot order).
    pub inputs: u32,
    /// Where its output goes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<Edge>,
    /// Whether its input is the array of its inputs (a join: a chord callback, a DAG fan-in, a
    /// gather), even when there is only one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub join: bool,
    /// Whether the name was given (DAG steps), and so must be unique.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub named: bool,
}

/// A whole workflow.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// The workflow's id: the id of its last step.
    pub workflow: TaskId,
    /// The steps.
    pub steps: Vec<StepPlan>,
    /// The step to start when a step fails for good; it receives a [`WorkflowFailure`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<StepPlan>,
}

/// What travels in a step's `continuation`: the plan and which step this is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Continuation {
    /// The plan.
    pub plan: Plan,
    /// This step.
    pub step: u32,
}

/// Why a workflow failed: what an error callback receives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowFailure {
    /// The workflow's id.
    pub workflow: TaskId,
    /// The failed step's name.
    pub step: String,
    /// The failed step's task.
    pub task: String,
    /// The failed step's task id.
    pub step_id: TaskId,
    /// What kind of failure.
    pub kind: FailureKind,
    /// The step's error message.
    pub message: String,
}

/// Where a part of a canvas delivers its output: one step, or several whose outputs are
/// gathered, in order, into an array.
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub enum Outputs {
    /// One step.
    One(u32),
    /// Several steps, in order.
    Many(Vec<u32>),
}

/// Builds a plan while a canvas is walked.
#[derive(Debug, Default)]
#[doc(hidden)]
pub struct PlanBuilder {
    steps: Vec<StepPlan>,
    on_error: Option<StepPlan>,
}

impl PlanBuilder {
    /// Adds a step that waits for `input` (or starts with the workflow if `None`).
    pub fn add(
        &mut self,
        name: String,
        template: Envelope,
        input_arg: Option<String>,
        input: Option<&Outputs>,
    ) -> Result<u32, Error> {
        let index = u32::try_from(self.steps.len()).map_err(|_| too_big())?;
        let join = matches!(input, Some(Outputs::Many(_)));
        let inputs = match input {
            None => 0,
            Some(Outputs::One(from)) => {
                self.edge(*from, index, 0)?;
                1
            }
            Some(Outputs::Many(from)) => {
                for (slot, f) in from.iter().enumerate() {
                    let slot = u32::try_from(slot).map_err(|_| too_big())?;
                    self.edge(*f, index, slot)?;
                }
                u32::try_from(from.len()).map_err(|_| too_big())?
            }
        };
        self.steps.push(StepPlan {
            name,
            template,
            input: input_arg,
            inputs,
            edges: Vec::new(),
            join,
            named: false,
        });
        Ok(index)
    }

    /// Gives step `i` a name of its own (a DAG step's).
    pub fn rename(&mut self, i: u32, name: &str) {
        if let Some(step) = self.steps.get_mut(i as usize) {
            step.name = name.to_owned();
            step.named = true;
        }
    }

    /// Moves every step of `other` into this plan; returns the index its first step got.
    pub fn append(&mut self, other: PlanBuilder) -> Result<u32, Error> {
        let offset = u32::try_from(self.steps.len()).map_err(|_| too_big())?;
        for mut step in other.steps {
            for e in &mut step.edges {
                e.to = e.to.checked_add(offset).ok_or_else(too_big)?;
            }
            self.steps.push(step);
        }
        if other.on_error.is_some() {
            self.on_error = other.on_error;
        }
        Ok(offset)
    }

    fn edge(&mut self, from: u32, to: u32, slot: u32) -> Result<(), Error> {
        let step = self.steps.get_mut(from as usize).ok_or_else(no_step)?;
        step.edges.push(Edge { to, slot });
        Ok(())
    }

    /// Makes `outputs` one step, gathering several into an array with the built-in gather
    /// task.
    pub fn single(&mut self, outputs: Outputs, queue: &str) -> Result<u32, Error> {
        match outputs {
            Outputs::One(i) => Ok(i),
            many @ Outputs::Many(_) => {
                let args = Payload::encode(&Map::new()).map_err(|source| Error::Encode {
                    what: "gather arguments",
                    source,
                })?;
                let template = Envelope::new(GATHER_TASK, queue, args);
                self.add(
                    GATHER_TASK.to_owned(),
                    template,
                    Some("items".to_owned()),
                    Some(&many),
                )
            }
        }
    }

    /// The queue of step `i` (for a gather step placed after it).
    pub fn queue_of(&self, i: u32) -> String {
        self.steps.get(i as usize).map_or_else(
            || crate::task::DEFAULT_QUEUE.to_owned(),
            |s| s.template.queue.clone(),
        )
    }

    /// Sets the error callback.
    pub fn on_error(&mut self, step: StepPlan) {
        self.on_error = Some(step);
    }

    /// Finishes the plan: `last` is the step whose output is the workflow's output; its id
    /// becomes the workflow's id.
    pub fn finish(mut self, last: u32) -> Result<Plan, Error> {
        let workflow = self
            .steps
            .get(last as usize)
            .map(|s| s.template.id)
            .ok_or_else(no_step)?;
        for step in &mut self.steps {
            step.template.root_id = Some(workflow);
        }
        if let Some(e) = &mut self.on_error {
            e.template.root_id = Some(workflow);
        }
        let mut names = std::collections::HashSet::new();
        for s in &self.steps {
            if s.named && !names.insert(s.name.as_str()) {
                return Err(WorkflowError::DuplicateStepName(s.name.clone()).into());
            }
        }
        Ok(Plan {
            workflow,
            steps: self.steps,
            on_error: self.on_error,
        })
    }
}

fn too_big() -> Error {
    WorkflowError::TooManySteps.into()
}

fn no_step() -> Error {
    WorkflowError::NoSuchStep.into()
}

impl Plan {
    /// The messages that start the workflow: its steps that wait for nothing.
    pub fn roots(&self) -> Result<Vec<Envelope>, Error> {
        let mut out = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            if step.inputs == 0 {
                let i = u32::try_from(i).map_err(|_| too_big())?;
                out.push(self.message(i, None)?);
            }
        }
        Ok(out)
    }

    /// Step `i`'s message, with `input` in its input argument and the plan as continuation.
    pub fn message(&self, i: u32, input: Option<Value>) -> Result<Envelope, Error> {
        let step = self.steps.get(i as usize).ok_or_else(no_step)?;
        let mut env = step.template.clone();
        if let (Some(arg), Some(value)) = (&step.input, input) {
            env.args = splice(&env.args, arg, value)?;
        }
        // The step carries only the part of the plan it can reach (what comes after it), so a
        // chord of n members costs O(n), not O(n^2), in messages.
        env.continuation = Some(
            Payload::encode(&Continuation {
                plan: self.reachable_from(i),
                step: 0,
            })
            .map_err(|source| Error::Encode {
                what: "workflow plan",
                source,
            })?,
        );
        Ok(env)
    }

    /// The steps reachable from step `from` (itself first, as step 0), with their edges
    /// renumbered.
    fn reachable_from(&self, from: u32) -> Plan {
        let mut index = std::collections::HashMap::new();
        let mut order = vec![from];
        index.insert(from, 0u32);
        let mut k = 0;
        while let Some(&i) = order.get(k) {
            if let Some(step) = self.steps.get(i as usize) {
                for e in &step.edges {
                    let next = u32::try_from(order.len()).unwrap_or(u32::MAX);
                    if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(e.to) {
                        slot.insert(next);
                        order.push(e.to);
                    }
                }
            }
            k += 1;
        }
        let steps = order
            .iter()
            .filter_map(|old| self.steps.get(*old as usize))
            .map(|s| {
                let mut s = s.clone();
                for e in &mut s.edges {
                    e.to = index.get(&e.to).copied().unwrap_or(u32::MAX);
                }
                s
            })
            .collect();
        Plan {
            workflow: self.workflow,
            steps,
            on_error: self.on_error.clone(),
        }
    }

    /// The error callback's message for `failure`, if the workflow has one.
    pub fn error_message(&self, failure: &WorkflowFailure) -> Result<Option<Envelope>, Error> {
        let Some(step) = &self.on_error else {
            return Ok(None);
        };
        let mut env = step.template.clone();
        if let Some(arg) = &step.input {
            let value = serde_json::to_value(failure).map_err(|source| Error::Encode {
                what: "workflow failure",
                source,
            })?;
            env.args = splice(&env.args, arg, value)?;
        }
        Ok(Some(env))
    }
}

/// Sets argument `arg` of the JSON object `args` to `value`.
fn splice(args: &Payload, arg: &str, value: Value) -> Result<Payload, Error> {
    let mut map: Map<String, Value> = args
        .decode()
        .map_err(|_| WorkflowError::ArgumentsNotObject(arg.to_owned()))?;
    map.insert(arg.to_owned(), value);
    Payload::encode(&map).map_err(|source| Error::Encode {
        what: "step arguments",
        source,
    })
}

/// The failure a workflow ends with when step `step` fails with `failure`.
pub(crate) fn step_failure(step: &StepPlan, failure: &TaskFailure) -> TaskFailure {
    let message = if step.name == step.template.task {
        format!("workflow step `{}` failed: {}", step.name, failure.message)
    } else {
        format!(
            "workflow step `{}` (task `{}`) failed: {}",
            step.name, step.template.task, failure.message
        )
    };
    TaskFailure::new(failure.kind, message)
}
