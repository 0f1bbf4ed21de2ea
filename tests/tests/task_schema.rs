//! The JSON Schemas that `#[task]` and `#[workflow]` generate (taskq feature `schema`): each
//! argument's schema from its type's `JsonSchema`, `{}` for a type without one, definitions
//! for nested types, outputs, doc comments; and bodies checked against them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use taskq::canvas::{Canvas, Workflow};
use taskq::schema::schemars::JsonSchema;
use taskq::schema::{SchemaGen, TaskSchema};
use taskq::{Call, Registry, Task};

/// A point on the map.
#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "taskq::schema::schemars")]
pub struct Point {
    /// Across.
    pub x: f64,
    pub y: f64,
}

/// A type without `JsonSchema`: any JSON.
#[derive(Serialize, Deserialize)]
pub struct Opaque(u8);

/// Every kind of argument.
///
/// Second paragraph.
#[taskq::task(name = "schema.everything")]
async fn everything(
    count: i64,
    label: String,
    limit: Option<u32>,
    tags: Vec<String>,
    at: Point,
    blob: Opaque,
) -> Vec<u32> {
    let _ = (count, label, limit, tags, at, blob);
    Vec::new()
}

#[taskq::task(name = "schema.fallible")]
fn fallible(n: u32) -> Result<Point, String> {
    Ok(Point {
        x: f64::from(n),
        y: 0.0,
    })
}

#[taskq::task(name = "schema.unit")]
async fn unit() {}

#[taskq::task(name = "schema.opaque_output")]
async fn opaque_output(ctx: taskq::Context) -> Opaque {
    let _ = ctx;
    Opaque(0)
}

#[taskq::task(name = "schema.sum")]
async fn sum(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

/// Counts to `n`, then sums.
#[taskq::workflow(name = "schema.flow")]
fn flow(n: u32, r#by: Option<u32>) -> impl Canvas<Output = u32> {
    let _ = r#by;
    everything::new(
        i64::from(n),
        String::new(),
        None,
        Vec::new(),
        Point { x: 0.0, y: 0.0 },
        Opaque(0),
    )
    .then(sum::partial())
}

#[taskq::workflow(name = "schema.named")]
fn named(n: u32) -> Call<fallible> {
    fallible::new(n)
}

#[taskq::workflow(name = "schema.named_opaque")]
fn named_opaque() -> Call<opaque_output> {
    opaque_output::new()
}

fn task_schema(name: &str, generator: &mut SchemaGen) -> TaskSchema {
    let entry = Registry::global().unwrap().get(name).unwrap();
    (entry.schema)(generator)
}

fn workflow_schema(name: &str, generator: &mut SchemaGen) -> TaskSchema {
    let entry = taskq::canvas::workflows().find(|e| e.name == name).unwrap();
    (entry.schema)(generator)
}

#[test]
fn the_feature_is_on() {
    assert!(SchemaGen::typed());
}

#[test]
fn arguments_get_their_types_schemas() {
    let mut generator = SchemaGen::new();
    let schema = task_schema(<everything as Task>::NAME, &mut generator);
    assert_eq!(
        schema.description.as_deref(),
        Some("Every kind of argument.\n\nSecond paragraph.")
    );
    assert_eq!(
        schema.args,
        json!({
            "type": "object",
            "properties": {
                "count": { "type": "integer", "format": "int64", "description": "The argument `count`." },
                "label": { "type": "string", "description": "The argument `label`." },
                "limit": {
                    "type": ["integer", "null"],
                    "format": "uint32",
                    "minimum": 0,
                    "description": "The argument `limit`.",
                },
                "tags": {
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "The argument `tags`.",
                },
                "at": { "$ref": "#/components/schemas/Point", "description": "The argument `at`." },
                "blob": { "description": "The argument `blob`." },
            },
            "required": ["count", "label", "tags", "at", "blob"],
            "additionalProperties": false,
        })
    );
    assert_eq!(
        schema.output,
        json!({ "type": "array", "items": { "type": "integer", "format": "uint32", "minimum": 0 } })
    );
    let definitions = generator.take_definitions();
    assert_eq!(
        Value::Object(definitions),
        json!({
            "Point": {
                "description": "A point on the map.",
                "type": "object",
                "properties": {
                    "x": { "description": "Across.", "type": "number", "format": "double" },
                    "y": { "type": "number", "format": "double" },
                },
                "required": ["x", "y"],
            }
        })
    );
    assert!(generator.take_definitions().is_empty(), "taken once");
}

#[test]
fn outputs_of_results_units_and_untyped_values() {
    let mut generator = SchemaGen::new();
    let fallible = task_schema(<fallible as Task>::NAME, &mut generator);
    assert_eq!(fallible.description, None);
    assert_eq!(
        fallible.output,
        json!({ "$ref": "#/components/schemas/Point" })
    );
    assert!(generator.take_definitions().contains_key("Point"));

    let unit = task_schema(<unit as Task>::NAME, &mut generator);
    assert_eq!(unit.output, json!({ "type": "null" }));
    assert_eq!(
        unit.args,
        json!({ "type": "object", "properties": {}, "required": [], "additionalProperties": false })
    );

    // The `Context` is no argument; an output without `JsonSchema` is any JSON.
    let opaque = task_schema(<opaque_output as Task>::NAME, &mut generator);
    assert_eq!(opaque.args["properties"], json!({}));
    assert_eq!(opaque.output, json!({}));
}

#[test]
fn workflows_describe_their_arguments_and_the_canvas_output() {
    let mut generator = SchemaGen::new();
    let schema = workflow_schema(<flow as Workflow>::NAME, &mut generator);
    assert_eq!(
        schema.description.as_deref(),
        Some("Counts to `n`, then sums.")
    );
    assert_eq!(
        schema.args,
        json!({
            "type": "object",
            "properties": {
                "n": { "type": "integer", "format": "uint32", "minimum": 0, "description": "The argument `n`." },
                "by": {
                    "type": ["integer", "null"],
                    "format": "uint32",
                    "minimum": 0,
                    "description": "The argument `by`.",
                },
            },
            "required": ["n"],
            "additionalProperties": false,
        })
    );
    assert_eq!(
        schema.output,
        json!({ "type": "integer", "format": "uint32", "minimum": 0 })
    );

    // A named canvas: its `Canvas::Output`.
    let named = workflow_schema(<named as Workflow>::NAME, &mut generator);
    assert_eq!(
        named.output,
        json!({ "$ref": "#/components/schemas/Point" })
    );
    let named_opaque = workflow_schema(<named_opaque as Workflow>::NAME, &mut generator);
    assert_eq!(named_opaque.output, json!({}));
}

#[test]
fn the_start_workflow_task_has_a_schema_of_its_own() {
    let mut generator = SchemaGen::new();
    let schema = <taskq::canvas::StartWorkflow as Task>::__schema(&mut generator);
    assert_eq!(schema.args["required"], json!(["name", "args"]));
    assert_eq!(schema.args["properties"]["name"]["type"], "string");
    assert_eq!(schema.output["format"], "uuid");
}

/// The document a REST API would check a body against: the args schema, with the definitions
/// where its `$ref`s point.
fn validator(args: &Value, definitions: serde_json::Map<String, Value>) -> jsonschema::Validator {
    let mut document = args.clone();
    document["components"] = json!({ "schemas": definitions });
    jsonschema::draft202012::new(&document).unwrap()
}

#[test]
fn bodies_are_checked_with_every_error_at_once() {
    let mut generator = SchemaGen::new();
    let schema = task_schema(<everything as Task>::NAME, &mut generator);
    let validator = validator(&schema.args, generator.take_definitions());

    let good = json!({
        "count": 3,
        "label": "x",
        "tags": ["a"],
        "at": { "x": 1.0, "y": 2.5 },
        "blob": 7,
    });
    assert!(validator.is_valid(&good), "{good}");
    // The body deserializes into the task, too.
    let _: everything = serde_json::from_value(good).unwrap();

    let bad = json!({
        "count": "three",
        "tags": [1],
        "at": { "x": 1.0 },
        "blob": 7,
        "colour": "red",
    });
    let mut errors: Vec<String> = validator
        .iter_errors(&bad)
        .map(|e| format!("{} {}", e.instance_path(), e))
        .collect();
    errors.sort();
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let all = errors.join("\n");
    for needle in [
        "/count",
        "/tags/0",
        "\"label\" is a required property",
        "\"y\" is a required property",
        "colour",
    ] {
        assert!(all.contains(needle), "{needle} in {all}");
    }
}
