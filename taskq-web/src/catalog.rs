//! The tasks and workflows a server knows: the registry's entries, by name.

use std::collections::BTreeMap;

use taskq::canvas::WorkflowEntry;
use taskq::TaskEntry;

/// A registered task, as the API sees it.
#[derive(Debug)]
pub(crate) struct TaskInfo {
    /// The registry's entry: name, options, schema.
    pub(crate) entry: &'static TaskEntry,
}

/// A registered workflow, as the API sees it.
#[derive(Debug)]
pub(crate) struct WorkflowInfo {
    /// The registry's entry: name, start, schema.
    pub(crate) entry: &'static WorkflowEntry,
}

/// The tasks and workflows by name.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// Tasks by name.
    pub(crate) tasks: BTreeMap<&'static str, TaskInfo>,
    /// Workflows by name.
    pub(crate) workflows: BTreeMap<&'static str, WorkflowInfo>,
}

impl Catalog {
    /// The catalog of `registry`'s tasks and every linked workflow.
    pub(crate) fn new(registry: &taskq::Registry) -> Self {
        let mut catalog = Self::default();
        for entry in registry.entries() {
            catalog.tasks.insert(entry.name, TaskInfo { entry });
        }
        catalog
    }
}
