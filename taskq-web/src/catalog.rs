//! The tasks and workflows a server knows: the registry's entries with their JSON Schemas, and
//! a compiled validator of each one's request body.
//!
//! Built once, at start-up, with one [`SchemaGen`] for everything, so that the types the
//! schemas share are one definition each (`catalog.definitions`, the document's
//! `components.schemas`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use taskq::canvas::WorkflowEntry;
use taskq::schema::{SchemaGen, TaskSchema};
use taskq::TaskEntry;

use crate::openapi::names;
use crate::problem::FieldError;

/// The component key of the submit options.
pub(crate) const OPTIONS_KEY: &str = "taskq.SubmitOptions";

/// A task's or workflow's schemas, and its body's validator.
pub(crate) struct Schemas {
    /// The doc comment of its function.
    pub(crate) description: Option<String>,
    /// Its arguments: a JSON Schema object (`{}` for a task that does not describe them).
    /// For the dashboard's enqueue form.
    #[allow(dead_code)]
    pub(crate) args: Value,
    /// Its output.
    pub(crate) output: Value,
    /// The body of a submit: the arguments and, for a task, `options`; `$ref`s point into
    /// `#/components/schemas`.
    pub(crate) body: Value,
    validator: Option<jsonschema::Validator>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas")
            .field("description", &self.description)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl Schemas {
    /// Every field error of `body` (empty when it fits).
    pub(crate) fn check(&self, body: &Value) -> Vec<FieldError> {
        let Some(validator) = &self.validator else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in validator.iter_errors(body) {
            let at = e.instance_path().as_str().to_owned();
            match e.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    let name = property
                        .as_str()
                        .map_or_else(|| property.to_string(), str::to_owned);
                    out.push(FieldError {
                        pointer: format!("{at}/{}", escape_pointer(&name)),
                        detail: format!("`{name}` is required"),
                    });
                }
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    for name in unexpected {
                        out.push(FieldError {
                            pointer: format!("{at}/{}", escape_pointer(name)),
                            detail: format!("`{name}` is not a field of this body"),
                        });
                    }
                }
                _ => out.push(FieldError {
                    pointer: at,
                    detail: e.to_string(),
                }),
            }
        }
        out
    }
}

/// A JSON Pointer token (RFC 6901): `~` as `~0`, `/` as `~1`.
fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A registered task, as the API sees it.
#[derive(Debug)]
pub(crate) struct TaskInfo {
    /// The registry's entry: name, options, run.
    pub(crate) entry: &'static TaskEntry,
    /// Its schemas.
    pub(crate) schemas: Schemas,
}

/// A registered workflow, as the API sees it.
#[derive(Debug)]
pub(crate) struct WorkflowInfo {
    /// The registry's entry: name, start.
    pub(crate) entry: &'static WorkflowEntry,
    /// Its schemas.
    pub(crate) schemas: Schemas,
}

/// The tasks and workflows by name.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    /// Tasks by name.
    pub(crate) tasks: BTreeMap<&'static str, TaskInfo>,
    /// Workflows by name.
    pub(crate) workflows: BTreeMap<&'static str, WorkflowInfo>,
    /// The schemas the tasks' schemas refer to (`#/components/schemas/<key>`), the submit
    /// options among them.
    pub(crate) definitions: Map<String, Value>,
}

impl Catalog {
    /// The catalog of `registry`'s tasks and every linked workflow.
    pub(crate) fn new(registry: &taskq::Registry) -> Self {
        let mut generator = SchemaGen::new();
        let tasks: Vec<(&'static TaskEntry, TaskSchema)> = registry
            .entries()
            .map(|e| (e, (e.schema)(&mut generator)))
            .collect();
        let workflows: Vec<(&'static WorkflowEntry, TaskSchema)> = taskq::canvas::workflows()
            .map(|e| (e, (e.schema)(&mut generator)))
            .collect();
        let mut definitions = generator.take_definitions();
        definitions.insert(OPTIONS_KEY.to_owned(), crate::api::options_schema());
        let mut catalog = Catalog {
            definitions,
            ..Catalog::default()
        };
        for (entry, schema) in tasks {
            let schemas = catalog.schemas(entry.name, schema, true);
            catalog
                .tasks
                .insert(entry.name, TaskInfo { entry, schemas });
        }
        for (entry, schema) in workflows {
            let schemas = catalog.schemas(entry.name, schema, false);
            catalog
                .workflows
                .insert(entry.name, WorkflowInfo { entry, schemas });
        }
        catalog
    }

    fn schemas(&self, name: &str, schema: TaskSchema, with_options: bool) -> Schemas {
        let body = body_schema(&schema.args, with_options);
        let mut root = body.clone();
        if let Value::Object(o) = &mut root {
            o.insert(
                "components".to_owned(),
                json!({ "schemas": Value::Object(self.definitions.clone()) }),
            );
        }
        let validator = match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
        {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(task = name, error = %e, "the schema of this task does not compile; its bodies are not checked before decoding");
                None
            }
        };
        Schemas {
            description: schema.description,
            args: schema.args,
            output: schema.output,
            body,
            validator,
        }
    }
}

/// The body of a submit: the arguments' object schema, with `options` for a task.
pub(crate) fn body_schema(args: &Value, with_options: bool) -> Value {
    let mut body = match args {
        Value::Object(o) if o.contains_key("properties") => o.clone(),
        // Arguments not described: any object.
        _ => {
            let mut o = Map::new();
            o.insert("type".to_owned(), json!("object"));
            o.insert("properties".to_owned(), json!({}));
            o
        }
    };
    body.insert("type".to_owned(), json!("object"));
    if with_options {
        if let Some(Value::Object(p)) = body.get_mut("properties") {
            p.insert(
                "options".to_owned(),
                json!({ "$ref": format!("#/components/schemas/{OPTIONS_KEY}") }),
            );
        }
    }
    Value::Object(body)
}

/// The component key of a task's union variant (with `task`).
pub(crate) fn variant_key(name: &str) -> String {
    names::task_key(name)
}
