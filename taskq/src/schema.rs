//! JSON Schemas of tasks' and workflows' arguments and outputs, generated from the Rust types,
//! for a REST API to check a JSON body against and to document in an OpenAPI 3.1 document.
//!
//! `#[task]` and `#[workflow]` give every registered task and workflow a [`SchemaFn`]
//! ([`TaskEntry::schema`](crate::TaskEntry::schema),
//! [`WorkflowEntry::schema`](crate::canvas::WorkflowEntry::schema)) that describes it as a
//! [`TaskSchema`]: its doc comment, its arguments as a JSON Schema object with one property per
//! parameter, and its output.
//!
//! The schemas are JSON Schema 2020-12, the dialect of OpenAPI 3.1. With the crate feature
//! `schema`, each argument's and output's schema comes from its type's
//! [`schemars::JsonSchema`](https://docs.rs/schemars/1/schemars/trait.JsonSchema.html): `i64` is
//! `{"type":"integer","format":"int64"}`, a struct deriving `JsonSchema` is a `$ref` to
//! `#/components/schemas/<Name>`, whose schema [`SchemaGen::take_definitions`] hands over, for
//! the document's `components.schemas`. A type that does not implement `JsonSchema` (and every
//! type, without the feature) is `{}`: any JSON. Enabling the feature never breaks a build.
//!
//! ```
//! /// Adds two numbers.
//! #[taskq::task]
//! async fn add(a: i64, b: Option<i64>) -> i64 {
//!     a + b.unwrap_or(0)
//! }
//!
//! # fn main() -> Result<(), taskq::RegistryError> {
//! use taskq::schema::SchemaGen;
//!
//! let entry = taskq::Registry::global()?.get(<add as taskq::Task>::NAME).unwrap();
//! let mut generator = SchemaGen::new();
//! let schema = (entry.schema)(&mut generator);
//! assert_eq!(schema.description.as_deref(), Some("Adds two numbers."));
//! assert_eq!(schema.args["type"], "object");
//! assert_eq!(schema.args["required"], serde_json::json!(["a"]));
//! assert_eq!(schema.args["additionalProperties"], false);
//! if SchemaGen::typed() {
//!     assert_eq!(schema.args["properties"]["a"]["type"], "integer");
//!     assert_eq!(schema.output["type"], "integer");
//! } else {
//!     // Without the feature `schema`: any JSON, described.
//!     assert_eq!(schema.args["properties"]["a"], serde_json::json!({ "description": "The argument `a`." }));
//! }
//! println!("{}", schema.args);
//! # Ok(())
//! # }
//! ```
//!
//! # Typed arguments of your own types
//!
//! Derive `JsonSchema` for them, through the re-export `taskq::schema::schemars` (feature
//! `schema`) or a dependency on `schemars` 1.x of your own. With the re-export, tell the derive
//! where the crate is:
//!
//! ```
//! # #[cfg(feature = "schema")] {
//! use taskq::schema::schemars::JsonSchema;
//! use taskq::schema::SchemaGen;
//!
//! /// A point on the map.
//! #[derive(serde::Serialize, serde::Deserialize, JsonSchema)]
//! #[schemars(crate = "taskq::schema::schemars")]
//! pub struct Point {
//!     pub x: f64,
//!     pub y: f64,
//! }
//!
//! #[taskq::task]
//! async fn visit(at: Point) {}
//!
//! let entry = taskq::Registry::global().unwrap().get(<visit as taskq::Task>::NAME).unwrap();
//! let mut generator = SchemaGen::new();
//! let schema = (entry.schema)(&mut generator);
//! assert_eq!(schema.args["properties"]["at"]["$ref"], "#/components/schemas/Point");
//! let definitions = generator.take_definitions(); // for the document's `components.schemas`
//! assert_eq!(definitions["Point"]["description"], "A point on the map.");
//! # }
//! ```
//!
//! With `schemars` as your own dependency, `#[derive(schemars::JsonSchema)]` needs no
//! `#[schemars(crate = ..)]`; it must be the same major version (1.x) as taskq's, or the type's
//! schema is `{}`.
//!
//! # Property order
//!
//! `required` lists the parameters in declaration order. `properties` is a
//! [`serde_json::Map`], which keeps insertion (declaration) order only when `serde_json`'s
//! feature `preserve_order` is on in the build; otherwise it is sorted by name. taskq does not
//! turn it on, since it changes every `serde_json::Map` in the program.

use serde_json::{Map, Value};

/// The `schemars` crate (1.x), for `#[derive(JsonSchema)]` on the types of tasks' arguments and
/// outputs without a dependency of your own: write `#[schemars(crate = "taskq::schema::schemars")]`
/// beside the derive. Only with the crate feature `schema`.
#[cfg(feature = "schema")]
pub use schemars;

/// Collects the schemas of the types named by tasks' fields and outputs; nested types (those
/// `schemars` does not inline, such as structs deriving `JsonSchema`) become definitions,
/// referenced as `#/components/schemas/<Name>` (OpenAPI components) and handed over by
/// [`take_definitions`](SchemaGen::take_definitions).
///
/// One generator for a whole document keeps every definition's name unique: two types both
/// named `Point` become `Point` and `Point2`.
///
/// ```
/// use taskq::schema::SchemaGen;
///
/// #[taskq::task]
/// async fn ping() {}
///
/// let mut generator = SchemaGen::new();
/// let entry = taskq::Registry::global().unwrap().get(<ping as taskq::Task>::NAME).unwrap();
/// let schema = (entry.schema)(&mut generator);
/// assert_eq!(schema.output, serde_json::json!({ "type": "null" }));
/// assert!(generator.take_definitions().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct SchemaGen {
    #[cfg(feature = "schema")]
    inner: schemars::SchemaGenerator,
}

impl Default for SchemaGen {
    fn default() -> Self {
        Self::new()
    }
}

/// Where definitions go, and where `$ref`s point: OpenAPI's `components.schemas`.
pub const DEFINITIONS_PATH: &str = "/components/schemas/";

impl SchemaGen {
    /// A generator for request bodies: JSON Schema 2020-12, the deserialize contract (what a
    /// body may be, as opposed to what serializing produces), definitions under
    /// [`DEFINITIONS_PATH`].
    pub fn new() -> Self {
        Self {
            #[cfg(feature = "schema")]
            inner: schemars::generate::SchemaSettings::draft2020_12()
                .with(|settings| {
                    settings.definitions_path = DEFINITIONS_PATH.into();
                })
                .for_deserialize()
                .into_generator(),
        }
    }

    /// The definitions collected so far, by name, leaving none: the document's
    /// `components.schemas`. Empty without the feature `schema`.
    pub fn take_definitions(&mut self) -> Map<String, Value> {
        #[cfg(feature = "schema")]
        {
            self.inner.take_definitions(true)
        }
        #[cfg(not(feature = "schema"))]
        {
            Map::new()
        }
    }

    /// Whether schemas are typed: whether taskq is built with the feature `schema`. When not,
    /// every argument's and output's schema is `{}` (any JSON).
    ///
    /// ```
    /// assert_eq!(taskq::schema::SchemaGen::typed(), cfg!(feature = "schema"));
    /// ```
    pub const fn typed() -> bool {
        cfg!(feature = "schema")
    }

    /// The `schemars` generator underneath, for schemas of other types in the same document.
    #[cfg(feature = "schema")]
    pub fn generator(&mut self) -> &mut schemars::SchemaGenerator {
        &mut self.inner
    }

    /// The schema of `T`, or a `$ref` to its definition.
    #[cfg(feature = "schema")]
    pub(crate) fn subschema_for<T: schemars::JsonSchema + ?Sized>(&mut self) -> Value {
        self.inner.subschema_for::<T>().to_value()
    }
}

/// One task's (or workflow's) schemas.
///
/// ```
/// use taskq::schema::TaskSchema;
///
/// let any = TaskSchema::any();
/// assert_eq!(any.args, serde_json::json!({}));
/// assert_eq!(any.output, serde_json::json!({}));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSchema {
    /// The doc comment of the function, if any (its lines joined, trimmed).
    pub description: Option<String>,
    /// The arguments as a JSON Schema object:
    /// `{"type":"object","properties":{<param>: <schema>, ..},"required":[<params not Option<..>>],"additionalProperties":false}`.
    /// Each property carries `"description": "The argument `x`."` unless the type's own schema
    /// has one.
    pub args: Value,
    /// The output type's schema (`{}` when unknown); `{"type":"null"}` for a task that returns
    /// nothing.
    pub output: Value,
}

impl TaskSchema {
    /// Nothing known: any JSON arguments, any JSON output. What a task implemented by hand has
    /// unless it says more.
    pub fn any() -> Self {
        Self {
            description: None,
            args: Value::Object(Map::new()),
            output: Value::Object(Map::new()),
        }
    }
}

/// How a task or workflow describes itself: `fn(&mut SchemaGen) -> TaskSchema`, filled in by
/// `#[task]` and `#[workflow]`.
pub type SchemaFn = fn(&mut SchemaGen) -> TaskSchema;

/// One parameter of a task or workflow, for [`args_schema`].
#[derive(Debug)]
pub(crate) struct Param {
    /// Its name, as serialized.
    pub(crate) name: &'static str,
    /// Its type's schema.
    pub(crate) schema: Value,
    /// Whether a body must have it: its type is not an `Option`.
    pub(crate) required: bool,
}

/// The arguments' object schema: the parameters as properties, in order, each described.
pub(crate) fn args_schema(params: Vec<Param>) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in params {
        let mut schema = match param.schema {
            Value::Object(object) => object,
            Value::Bool(true) => Map::new(),
            Value::Bool(false) => {
                let mut never = Map::new();
                never.insert("not".to_owned(), Value::Object(Map::new()));
                never
            }
            // Not a schema (`JsonSchema` never makes one); any JSON rather than an invalid document.
            _ => Map::new(),
        };
        if !schema.contains_key("description") {
            schema.insert(
                "description".to_owned(),
                Value::String(format!("The argument `{}`.", param.name)),
            );
        }
        if param.required {
            required.push(Value::String(param.name.to_owned()));
        }
        properties.insert(param.name.to_owned(), Value::Object(schema));
    }
    let mut object = Map::new();
    object.insert("type".to_owned(), Value::String("object".to_owned()));
    object.insert("properties".to_owned(), Value::Object(properties));
    object.insert("required".to_owned(), Value::Array(required));
    object.insert("additionalProperties".to_owned(), Value::Bool(false));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn args_are_an_object_of_described_properties() {
        let args = args_schema(vec![
            Param {
                name: "a",
                schema: json!({ "type": "integer" }),
                required: true,
            },
            Param {
                name: "b",
                schema: json!(true),
                required: false,
            },
            Param {
                name: "c",
                schema: json!({ "$ref": "#/components/schemas/C", "description": "Own." }),
                required: true,
            },
        ]);
        assert_eq!(
            args,
            json!({
                "type": "object",
                "properties": {
                    "a": { "type": "integer", "description": "The argument `a`." },
                    "b": { "description": "The argument `b`." },
                    "c": { "$ref": "#/components/schemas/C", "description": "Own." },
                },
                "required": ["a", "c"],
                "additionalProperties": false,
            })
        );
    }

    #[test]
    fn no_params_is_an_empty_object() {
        assert_eq!(
            args_schema(Vec::new()),
            json!({ "type": "object", "properties": {}, "required": [], "additionalProperties": false })
        );
    }
}
