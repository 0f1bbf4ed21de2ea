//! Submitting a task from a JSON body: find the task, check the body against its schema
//! (every field error at once), decode it as the task's arguments, build the message from the
//! task's declared options and the body's `options`, and publish it — exactly once per
//! `Idempotency-Key`.
//!
//! ```text
//!  body ──► schema check (jsonschema) + options check ──► decode (the registry's own decoder)
//!        └─ any error: 422, nothing published
//!  Idempotency-Key k:
//!    join("idem:k", slot 0 of 1, {id, sha256(canonical body)}, 24 h)  ── first write wins
//!       stored fingerprint ≠ this body's ──► 422
//!    publish_once([message with the stored id], 24 h)                 ── once per id
//! ```
//!
//! A crash between the two steps is repaired by the client's retry: the join answers the id
//! stored the first time, and `publish_once` publishes it if it never was.

use std::time::Duration;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use taskq::{Envelope, Payload, TaskId, Timestamp};

use crate::api::{Overrides, TaskAccepted};
use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

/// How long an `Idempotency-Key` is remembered.
pub(crate) const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 255;

/// What to submit, read from a request.
#[derive(Debug)]
pub(crate) struct Submit<'a> {
    /// The task's name.
    pub(crate) name: &'a str,
    /// The body without `task`: the arguments and `options`.
    pub(crate) body: Map<String, Value>,
    /// The `Idempotency-Key` header.
    pub(crate) idempotency_key: Option<&'a str>,
    /// Where the API is mounted, for links.
    pub(crate) base: &'a str,
}

/// Checks and publishes a task; the `202` body.
pub(crate) async fn submit(state: &AppState, req: Submit<'_>) -> Result<TaskAccepted, ApiError> {
    let Submit {
        name,
        mut body,
        idempotency_key,
        base,
    } = req;
    if let Some(key) = idempotency_key {
        check_key(key)?;
    }
    let info = state.catalog.tasks.get(name);
    if info.is_none() && !state.settings.any_task {
        return Err(ApiError::UnknownTask {
            name: name.to_owned(),
        });
    }
    let fingerprint = idempotency_key.map(|_| fingerprint(name, &body));
    let whole = Value::Object(body.clone());
    let mut errors = info.map(|i| i.schemas.check(&whole)).unwrap_or_default();
    let now = Timestamp::now();
    let options = body.remove("options");
    if info.is_none() && options.as_ref().is_some_and(|o| !o.is_object()) {
        errors.push(FieldError {
            pointer: "/options".to_owned(),
            detail: "`options` must be an object".to_owned(),
        });
    }
    let schema_errors = errors.clone();
    let overrides = Overrides::read(options.as_ref(), now, &schema_errors, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation { errors });
    }
    let args = Payload::encode(&Value::Object(body)).map_err(|e| ApiError::BadRequest {
        detail: format!("the arguments do not encode: {e}"),
    })?;
    if let Some(info) = info {
        // The registry's own decoder: what the worker will do. The future it makes is never
        // polled, so nothing runs.
        let decoded = (info.entry.run)(&args, taskq::Context::detached(name));
        if let Err(e) = decoded {
            return Err(ApiError::Validation {
                errors: vec![FieldError {
                    pointer: String::new(),
                    detail: format!("the arguments do not decode as `{name}`: {e}"),
                }],
            });
        }
    }
    let mut env = envelope(name, info.map(|i| &i.entry.options), args, &overrides);
    match (idempotency_key, fingerprint) {
        (Some(key), Some(fp)) => publish_idempotent(state, key, &fp, &mut env).await?,
        _ => {
            let accepted = TaskAccepted::new(base, env.id, &env.task, &env.queue, env.eta);
            state.client.send_envelopes(vec![env]).await?;
            return Ok(accepted);
        }
    }
    Ok(TaskAccepted::new(
        base, env.id, &env.task, &env.queue, env.eta,
    ))
}

/// The message: the task's declared options, overridden by the body's.
fn envelope(
    name: &str,
    declared: Option<&taskq::TaskOptions>,
    args: Payload,
    o: &Overrides,
) -> Envelope {
    let defaults = taskq::TaskOptions::DEFAULT;
    let d = declared.unwrap_or(&defaults);
    let queue = o.queue.clone().unwrap_or_else(|| d.queue.to_owned());
    let mut env = Envelope::new(name, queue, args);
    env.priority = o.priority.unwrap_or(d.priority).min(taskq::MAX_PRIORITY);
    env.max_attempts = d.max_attempts.max(1);
    env.backoff = d.backoff;
    env.timeout_ms = d.timeout.map(millis);
    env.result_ttl_ms = d.result_ttl.map(millis);
    env.eta = o.eta.filter(|t| *t > env.enqueued_at);
    env.expires = o.expires;
    env
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest {
            detail: format!(
                "the Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID is a good one)"
            ),
        });
    }
    Ok(())
}

/// Records the key's first id and fingerprint (the first write wins), then publishes the
/// message under the stored id, once.
async fn publish_idempotent(
    state: &AppState,
    key: &str,
    fp: &str,
    env: &mut Envelope,
) -> Result<(), ApiError> {
    let backend = state.client.backend();
    let mine =
        Payload::encode(&json!({ "id": env.id, "fp": fp })).map_err(|e| ApiError::BadRequest {
            detail: format!("cannot encode the idempotency record: {e}"),
        })?;
    let stored = backend
        .join(&format!("idem:{key}"), 0, 1, mine, IDEMPOTENCY_TTL)
        .await?
        .and_then(|v| v.into_iter().next())
        .ok_or_else(|| ApiError::Conflict {
            detail: "a request with this Idempotency-Key is still being processed; retry"
                .to_owned(),
        })?;
    let record: Value = serde_json::from_str(stored.as_str()).unwrap_or(Value::Null);
    if record.get("fp").and_then(Value::as_str) != Some(fp) {
        return Err(ApiError::IdempotencyMismatch {
            key: key.to_owned(),
        });
    }
    if let Some(id) = record
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<TaskId>().ok())
    {
        env.id = id;
    }
    // Sent once per id: a retry after a crash between the two steps sends it, a retry after
    // it was sent does not (and announces nothing).
    state.client.send_once(env.clone(), IDEMPOTENCY_TTL).await?;
    Ok(())
}

/// SHA-256 (hex) of the task name and the body as canonical JSON (keys sorted, no spaces).
fn fingerprint(name: &str, body: &Map<String, Value>) -> String {
    let mut text = String::new();
    canonical(
        &json!({ "task": name, "body": Value::Object(body.clone()) }),
        &mut text,
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = o.get(k) {
                    canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_key_order() {
        let a: Map<String, Value> =
            serde_json::from_str(r#"{"a":1,"b":{"y":2,"x":[1,{"q":1,"p":2}]}}"#).unwrap();
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"b":{"x":[1,{"p":2,"q":1}],"y":2},"a":1}"#).unwrap();
        assert_eq!(fingerprint("t", &a), fingerprint("t", &b));
        assert_ne!(fingerprint("t", &a), fingerprint("u", &a));
    }
}
