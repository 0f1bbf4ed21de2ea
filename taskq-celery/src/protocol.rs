//! Celery's task message, protocol version 2, as kombu's Redis transport stores it: a JSON
//! envelope whose `body` is the base64 of the JSON `[args, kwargs, embed]`.
//!
//! ```text
//! {"body": "<base64 of [args, kwargs, {callbacks, errbacks, chain, chord}]>",
//!  "content-encoding": "utf-8", "content-type": "application/json",
//!  "headers": {"lang", "task", "id", "shadow", "eta", "expires", "group", "group_index",
//!              "retries", "timelimit": [hard, soft], "root_id", "parent_id", "argsrepr",
//!              "kwargsrepr", "origin", "ignore_result", "replaced_task_nesting",
//!              "stamped_headers", "stamps"},
//!  "properties": {"correlation_id", "reply_to", "delivery_mode": 2,
//!                 "delivery_info": {"exchange": "", "routing_key": "<queue>"},
//!                 "priority", "body_encoding": "base64", "delivery_tag": "<uuid>"}}
//! ```

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use taskq::{Envelope, Payload, TaskId, Timestamp};

use crate::error::CeleryError;
use crate::time;

/// kombu's separator between a queue name and its priority step (`celery\x06\x163`).
pub const SEP: &str = "\x06\x16";
/// kombu's default priority steps on Redis: one list per step, step 0 consumed first.
pub const PRIORITY_STEPS: [u8; 4] = [0, 3, 6, 9];
/// The key in a taskq argument object that carries Celery's positional and keyword arguments
/// together: `{"__celery__": [[args...], {kwargs...}]}` (see [`crate::send_task`]).
pub const MIXED_ARGS_KEY: &str = "__celery__";

/// The Redis list of `queue` for a Celery priority (0 highest on Redis), as kombu names it.
pub fn list_key(queue: &str, celery_priority: u8) -> String {
    let step = step_of(celery_priority);
    if step == 0 {
        queue.to_owned()
    } else {
        format!("{queue}{SEP}{step}")
    }
}

/// The lists of `queue`, in the order BRPOP consumes them.
pub fn list_keys(queue: &str) -> Vec<String> {
    PRIORITY_STEPS.iter().map(|p| list_key(queue, *p)).collect()
}

fn step_of(celery_priority: u8) -> u8 {
    let p = celery_priority.min(9);
    PRIORITY_STEPS
        .iter()
        .rev()
        .copied()
        .find(|s| *s <= p)
        .unwrap_or(0)
}

/// taskq's priority (0 to 9, higher first) as Celery's on Redis (0 to 9, lower first, in four
/// steps). taskq's default, 5, and everything above it map to Celery's default, 0: on kombu's
/// Redis transport nothing ranks above a default message, so a priority can only demote.
pub fn to_celery_priority(p: u8) -> u8 {
    match p {
        5.. => 0,
        3 | 4 => 3,
        1 | 2 => 6,
        0 => 9,
    }
}

/// Celery's priority as taskq's (the inverse of [`to_celery_priority`] on each step).
pub fn from_celery_priority(p: u8) -> u8 {
    match step_of(p) {
        0 => 5,
        3 => 4,
        6 => 2,
        _ => 0,
    }
}

/// The headers of a protocol-2 message.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Headers {
    /// The producer's language (`py` for Celery, `rust` for taskq).
    #[serde(default)]
    pub lang: Option<String>,
    /// The task name.
    pub task: String,
    /// The task id.
    pub id: String,
    /// A name to log instead of the task's.
    #[serde(default)]
    pub shadow: Option<String>,
    /// Not before this time (ISO 8601).
    #[serde(default)]
    pub eta: Option<String>,
    /// Revoked if not started by this time (ISO 8601).
    #[serde(default)]
    pub expires: Option<String>,
    /// The group the task belongs to.
    #[serde(default)]
    pub group: Option<String>,
    /// Its index in the group.
    #[serde(default)]
    pub group_index: Option<u64>,
    /// How many times it was retried (0 for the first run).
    #[serde(default, deserialize_with = "null_default")]
    pub retries: u32,
    /// `[hard, soft]` time limits in seconds.
    #[serde(default, deserialize_with = "null_default")]
    pub timelimit: (Option<f64>, Option<f64>),
    /// The first task of the workflow.
    #[serde(default)]
    pub root_id: Option<String>,
    /// The task that sent this one.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// `repr(args)`, for logs.
    #[serde(default)]
    pub argsrepr: Option<String>,
    /// `repr(kwargs)`, for logs.
    #[serde(default)]
    pub kwargsrepr: Option<String>,
    /// The producer's node name.
    #[serde(default)]
    pub origin: Option<String>,
    /// Whether to store no result.
    #[serde(default, deserialize_with = "null_default")]
    pub ignore_result: bool,
    /// How deep `Task.replace` nesting went.
    #[serde(default, deserialize_with = "null_default")]
    pub replaced_task_nesting: u32,
    /// Celery's stamping API.
    #[serde(default)]
    pub stamped_headers: Option<Value>,
    /// Celery's stamping API.
    #[serde(default)]
    pub stamps: Option<Value>,
}

/// `null` as the type's default: Celery writes `null` for options nobody set
/// (`send_task` leaves `ignore_result` null).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Where the message was routed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DeliveryInfo {
    /// The exchange (`""`, the default direct exchange, for Celery's default routing).
    #[serde(default)]
    pub exchange: String,
    /// The routing key: the queue name under the default exchange.
    #[serde(default)]
    pub routing_key: String,
}

/// The properties of a message.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Properties {
    /// The task id again.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// The client's reply queue (unused by the Redis result backend).
    #[serde(default)]
    pub reply_to: Option<String>,
    /// 2: persistent.
    #[serde(default)]
    pub delivery_mode: Option<u8>,
    /// Where it was routed.
    #[serde(default)]
    pub delivery_info: DeliveryInfo,
    /// 0 to 9; on Redis, 0 is consumed first.
    #[serde(default)]
    pub priority: Option<u8>,
    /// `base64`.
    #[serde(default)]
    pub body_encoding: Option<String>,
    /// The key of the message in the `unacked` hash while a worker holds it.
    #[serde(default)]
    pub delivery_tag: Option<String>,
}

/// A whole message as it sits in a kombu list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// The encoded body.
    pub body: String,
    /// `utf-8`.
    #[serde(rename = "content-encoding", default)]
    pub content_encoding: Option<String>,
    /// `application/json` (the only serializer this crate reads).
    #[serde(rename = "content-type", default)]
    pub content_type: Option<String>,
    /// The headers.
    pub headers: Headers,
    /// The properties.
    pub properties: Properties,
}

/// A signature in a message's embed (`chain`, `callbacks`): a task to send with the result.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Signature {
    /// The task name.
    pub task: String,
    /// Positional arguments (the result is put in front unless `immutable`).
    #[serde(default)]
    pub args: Vec<Value>,
    /// Keyword arguments.
    #[serde(default)]
    pub kwargs: Map<String, Value>,
    /// `apply_async` options: `task_id`, `queue`, `priority`, `countdown`, ...
    #[serde(default)]
    pub options: Map<String, Value>,
    /// `chain`, `group`, `chord` for canvas signatures; `null` for a plain task.
    #[serde(default)]
    pub subtask_type: Option<String>,
    /// Whether the previous result is *not* passed (`.si()`).
    #[serde(default)]
    pub immutable: bool,
}

/// The third element of the body.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Embed {
    /// Signatures to send with the result on success (`link`).
    #[serde(default)]
    pub callbacks: Option<Vec<Value>>,
    /// Signatures to call on failure (`link_error`).
    #[serde(default)]
    pub errbacks: Option<Vec<Value>>,
    /// The rest of a chain, last step first: the next step is the last element.
    #[serde(default)]
    pub chain: Option<Vec<Value>>,
    /// The chord this task is a header member of.
    #[serde(default)]
    pub chord: Option<Value>,
}

/// The decoded body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
    /// Callbacks, errbacks, chain, chord.
    pub embed: Embed,
}

impl Message {
    /// Parses a message as it sits in a list.
    ///
    /// # Errors
    /// [`CeleryError::Malformed`] if it is not a protocol-2 JSON message.
    pub fn parse(raw: &str) -> Result<Self, CeleryError> {
        serde_json::from_str(raw)
            .map_err(|e| CeleryError::Malformed(format!("not a Celery protocol 2 message: {e}")))
    }

    /// Decodes the body: base64 (or plain), JSON `[args, kwargs, embed]`.
    ///
    /// # Errors
    /// [`CeleryError::Malformed`] for another serializer (pickle, msgpack, yaml) or a body
    /// that is not `[args, kwargs, embed]`.
    pub fn body(&self) -> Result<Body, CeleryError> {
        if let Some(ct) = &self.content_type {
            if ct != "application/json" {
                return Err(CeleryError::Malformed(format!(
                    "content type `{ct}`: only Celery's JSON serializer is supported (set \
                     `task_serializer = \"json\"`)"
                )));
            }
        }
        let text = match self.properties.body_encoding.as_deref() {
            Some("base64") => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(self.body.as_bytes())
                    .map_err(|e| CeleryError::Malformed(format!("body is not base64: {e}")))?;
                String::from_utf8(bytes)
                    .map_err(|e| CeleryError::Malformed(format!("body is not UTF-8: {e}")))?
            }
            _ => self.body.clone(),
        };
        let (args, kwargs, embed): (Vec<Value>, Map<String, Value>, Option<Embed>) =
            serde_json::from_str(&text).map_err(|e| {
                CeleryError::Malformed(format!("body is not [args, kwargs, embed]: {e}"))
            })?;
        Ok(Body {
            args,
            kwargs,
            embed: embed.unwrap_or_default(),
        })
    }

    /// Serializes the message as kombu stores it.
    ///
    /// # Errors
    /// [`CeleryError::Json`] if serialization fails.
    pub fn to_json(&self) -> Result<String, CeleryError> {
        serde_json::to_string(self).map_err(CeleryError::Json)
    }
}

/// Encodes a body as base64 JSON.
pub fn encode_body(body: &Body) -> Result<String, CeleryError> {
    let json = serde_json::to_string(&(&body.args, &body.kwargs, &body.embed))
        .map_err(CeleryError::Json)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(json))
}

/// A Python-like `repr` of arguments, for `argsrepr`/`kwargsrepr` (Celery only logs them).
fn repr(v: &Value, tuple: bool) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|x| repr(x, false)).collect();
            if tuple {
                if items.len() == 1 {
                    format!("({},)", items[0])
                } else {
                    format!("({})", items.join(", "))
                }
            } else {
                format!("[{}]", items.join(", "))
            }
        }
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, x)| format!("'{k}': {}", repr(x, false)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A task id as a [`TaskId`]: the UUID itself, or, for a custom id that is not one, a UUID v5
/// derived from it (the message keeps the original for its result key).
pub fn task_id_of(id: &str) -> TaskId {
    match uuid::Uuid::parse_str(id) {
        Ok(u) => TaskId::from(u),
        Err(_) => TaskId::from(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            id.as_bytes(),
        )),
    }
}

/// Splits a taskq argument payload into Celery's positional and keyword arguments: an object
/// is keyword arguments (a Rust task's struct), an array positional ones, an object with only
/// [`MIXED_ARGS_KEY`] both, anything else one positional argument.
pub fn split_args(args: &Payload) -> Result<(Vec<Value>, Map<String, Value>), CeleryError> {
    let v: Value = args.decode().map_err(CeleryError::Json)?;
    Ok(match v {
        Value::Object(mut o) if o.len() == 1 && o.contains_key(MIXED_ARGS_KEY) => {
            match o.remove(MIXED_ARGS_KEY) {
                Some(Value::Array(mut pair)) if pair.len() == 2 => {
                    let kwargs = match pair.pop() {
                        Some(Value::Object(k)) => k,
                        _ => Map::new(),
                    };
                    let args = match pair.pop() {
                        Some(Value::Array(a)) => a,
                        _ => Vec::new(),
                    };
                    (args, kwargs)
                }
                _ => {
                    return Err(CeleryError::Malformed(format!(
                        "`{MIXED_ARGS_KEY}` must be `[[args...], {{kwargs...}}]`"
                    )))
                }
            }
        }
        Value::Object(o) => (Vec::new(), o),
        Value::Array(a) => (a, Map::new()),
        Value::Null => (Vec::new(), Map::new()),
        other => (vec![other], Map::new()),
    })
}

/// Maps Celery's positional and keyword arguments onto a Rust task's parameters: the JSON
/// object its struct deserializes from.
///
/// # Errors
/// [`CeleryError::Arguments`] for more positional arguments than parameters, or an argument
/// given both by position and by name.
pub fn map_args(
    task: &str,
    params: &[&str],
    args: Vec<Value>,
    mut kwargs: Map<String, Value>,
) -> Result<Map<String, Value>, CeleryError> {
    if args.len() > params.len() {
        return Err(CeleryError::Arguments(format!(
            "`{task}` takes {} positional argument(s) ({}) but {} were given",
            params.len(),
            params.join(", "),
            args.len()
        )));
    }
    let mut out = Map::new();
    for (name, value) in params.iter().zip(args) {
        if kwargs.contains_key(*name) {
            return Err(CeleryError::Arguments(format!(
                "`{task}` got multiple values for argument `{name}`"
            )));
        }
        out.insert((*name).to_owned(), value);
    }
    out.append(&mut kwargs);
    Ok(out)
}

/// The options of a message this crate writes.
#[derive(Clone, Debug, Default)]
pub struct Outgoing {
    /// The task id, as Celery will see it.
    pub id: String,
    /// The task name.
    pub task: String,
    /// The kombu queue name.
    pub queue: String,
    /// Celery priority (0 consumed first).
    pub priority: u8,
    /// Positional, keyword arguments and embed.
    pub body: Body,
    /// Not before.
    pub eta: Option<Timestamp>,
    /// Revoked if not started by.
    pub expires: Option<Timestamp>,
    /// Retries so far.
    pub retries: u32,
    /// Hard time limit, seconds.
    pub time_limit: Option<f64>,
    /// Root id.
    pub root_id: Option<String>,
    /// Parent id.
    pub parent_id: Option<String>,
    /// Group id.
    pub group: Option<String>,
    /// Store no result.
    pub ignore_result: bool,
}

/// Builds a message as Celery's `as_task_v2` would, for kombu's Redis transport.
pub fn build(out: Outgoing) -> Result<Message, CeleryError> {
    let args_value = Value::Array(out.body.args.clone());
    let kwargs_value = Value::Object(out.body.kwargs.clone());
    let root = out.root_id.clone().unwrap_or_else(|| out.id.clone());
    Ok(Message {
        body: encode_body(&out.body)?,
        content_encoding: Some("utf-8".into()),
        content_type: Some("application/json".into()),
        headers: Headers {
            lang: Some("rust".into()),
            task: out.task,
            id: out.id.clone(),
            shadow: None,
            eta: out.eta.map(time::format),
            expires: out.expires.map(time::format),
            group: out.group,
            group_index: None,
            retries: out.retries,
            timelimit: (out.time_limit, None),
            root_id: Some(root),
            parent_id: out.parent_id,
            argsrepr: Some(repr(&args_value, true)),
            kwargsrepr: Some(repr(&kwargs_value, false)),
            origin: Some(origin()),
            ignore_result: out.ignore_result,
            replaced_task_nesting: 0,
            stamped_headers: None,
            stamps: Some(Value::Object(Map::new())),
        },
        properties: Properties {
            correlation_id: Some(out.id),
            reply_to: Some(String::new()),
            delivery_mode: Some(2),
            delivery_info: DeliveryInfo {
                exchange: String::new(),
                routing_key: out.queue,
            },
            priority: Some(out.priority),
            body_encoding: Some("base64".into()),
            delivery_tag: Some(uuid::Uuid::new_v4().to_string()),
        },
    })
}

fn origin() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!("taskq{}@{host}", std::process::id())
}

/// A message calling `task` with positional `args` on kombu queue `queue`, with a fresh id and
/// every other option at Celery's default: what `app.send_task(task, args, queue=queue)` sends.
///
/// # Errors
/// [`CeleryError::Json`] if the arguments do not serialize.
pub fn call(task: &str, queue: &str, args: impl Serialize) -> Result<Message, CeleryError> {
    let args = match serde_json::to_value(args).map_err(CeleryError::Json)? {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    build(Outgoing {
        id: uuid::Uuid::new_v4().to_string(),
        task: task.to_owned(),
        queue: queue.to_owned(),
        body: Body {
            args,
            ..Body::default()
        },
        ..Outgoing::default()
    })
}

/// The message for a taskq envelope, on kombu queue `queue`.
pub fn from_envelope(env: &Envelope, queue: &str) -> Result<Message, CeleryError> {
    let (args, kwargs) = split_args(&env.args)?;
    build(Outgoing {
        id: env.id.to_string(),
        task: env.task.clone(),
        queue: queue.to_owned(),
        priority: to_celery_priority(env.priority),
        body: Body {
            args,
            kwargs,
            embed: Embed::default(),
        },
        eta: env.eta,
        expires: env.expires,
        retries: 0,
        time_limit: env.timeout_ms.map(|ms| ms as f64 / 1000.0),
        root_id: env.root_id.map(|r| r.to_string()),
        parent_id: env.parent_id.map(|p| p.to_string()),
        group: None,
        ignore_result: env.result_ttl_ms.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kombu_list_names_and_priorities() {
        assert_eq!(list_key("celery", 0), "celery");
        assert_eq!(list_key("celery", 7), "celery\x06\x166");
        assert_eq!(list_key("celery", 9), "celery\x06\x169");
        assert_eq!(list_keys("q").len(), 4);
        assert_eq!(to_celery_priority(5), 0);
        assert_eq!(to_celery_priority(9), 0);
        assert_eq!(to_celery_priority(0), 9);
        for p in 0..=9 {
            assert_eq!(
                step_of(to_celery_priority(from_celery_priority(p))),
                step_of(p)
            );
        }
    }

    #[test]
    fn arguments_map_by_position_then_name() {
        let m = map_args(
            "t",
            &["a", "b", "c"],
            vec![Value::from(1)],
            serde_json::from_str(r#"{"c": 3, "b": 2}"#).expect("json"),
        )
        .expect("maps");
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"a": 1, "b": 2, "c": 3})
        );
        assert!(map_args("t", &["a"], vec![1.into(), 2.into()], Map::new()).is_err());
        let mut k = Map::new();
        k.insert("a".into(), 1.into());
        assert!(map_args("t", &["a"], vec![1.into()], k).is_err());
    }

    #[test]
    fn reprs_look_like_python() {
        assert_eq!(repr(&serde_json::json!([2, "x"]), true), "(2, 'x')");
        assert_eq!(repr(&serde_json::json!([2]), true), "(2,)");
        assert_eq!(repr(&serde_json::json!({"b": null}), false), "{'b': None}");
    }
}
