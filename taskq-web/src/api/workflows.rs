//! Starting a workflow.

use serde::{Deserialize, Serialize};
use taskq::TaskId;

use super::submit::Links;

/// The answer to `POST /api/workflows/{name}`: `202 Accepted`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowStarted {
    /// The workflow's id: the id of the task whose result is the workflow's.
    pub id: TaskId,
    /// The workflow's name.
    pub workflow: String,
    /// Where to find its result.
    pub links: Links,
}
