//! The OpenAPI 3.1 document, assembled at start-up from the catalog: the task set is known
//! only at link time, so no compile-time listing could hold it.
//!
//! For each registered task:
//! - `task.<name>`: its variant of the `POST /api/tasks` union — **one merged object**:
//!   `task: {const: <name>}`, the task's own properties, `options: {$ref: SubmitOptions}`,
//!   `required`, `additionalProperties: false`. Never an `allOf` of the arguments and the
//!   envelope: with `additionalProperties: false` in a branch, JSON Schema rejects the sibling
//!   branches' properties, so valid bodies would fail.
//! - `task.<name>.body`: the same without `task`, the body of its own operation
//!   `POST /api/tasks/<name>` (one `operationId` per task: code generators handle a plain body
//!   per operation far better than a `oneOf`).
//! - `task.<name>.output`: its output.
//!
//! `POST /api/tasks` takes `oneOf` the variants with a `discriminator` on `task` mapping each
//! name to its variant. Component keys are `^[a-zA-Z0-9.\-_]+$`, so names map through
//! [`names`] (reversibly: `billing::send_invoice` is `task.billing.send_invoice`). taskq's own
//! bodies are `taskq.<Name>`; the types the tasks' schemas refer to keep the names `schemars`
//! gives them.

pub(crate) mod names;

use serde_json::{json, Map, Value};

use crate::catalog::{variant_key, Catalog, OPTIONS_KEY};

fn schema_ref(key: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{key}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The standard error responses of an operation, by status.
fn errors(statuses: &[&str]) -> Map<String, Value> {
    statuses
        .iter()
        .map(|s| {
            (
                (*s).to_owned(),
                json!({ "$ref": "#/components/responses/Problem" }),
            )
        })
        .collect()
}

/// An operation: `responses` are added to the errors every authenticated route can answer.
fn op(id: &str, summary: &str, role: &str, mut responses: Map<String, Value>) -> Value {
    responses.extend(errors(&["401", "403", "503"]));
    json!({
        "operationId": id,
        "summary": summary,
        "description": format!("Needs the `{role}` role."),
        "responses": responses,
    })
}

fn ok(status: &str, description: &str, schema: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        status.to_owned(),
        json!({ "description": description, "content": json_content(schema) }),
    );
    m
}

fn with(mut base: Map<String, Value>, more: Map<String, Value>) -> Map<String, Value> {
    base.extend(more);
    base
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn set(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(o) = v {
        o.insert(key.to_owned(), value);
    }
}

/// The whole document.
pub(crate) fn document(catalog: &Catalog, any_task: bool, max_wait_secs: u64) -> Value {
    let mut schemas = catalog.definitions.clone();
    schemas.extend(taskq_schemas());
    let mut paths = Map::new();
    let mut variants = Vec::new();
    let mut mapping = Map::new();

    for (name, info) in &catalog.tasks {
        let key = variant_key(name);
        let body = info.schemas.body.clone();
        // The union variant: the body with `task`, merged into the one object.
        let mut variant = body.clone();
        if let Value::Object(o) = &mut variant {
            if let Some(Value::Object(p)) = o.get_mut("properties") {
                let mut props = Map::new();
                props.insert(
                    "task".to_owned(),
                    json!({ "const": name, "description": "The task to run." }),
                );
                props.extend(std::mem::take(p));
                *p = props;
            }
            let mut required = vec![json!("task")];
            if let Some(Value::Array(r)) = o.get("required") {
                required.extend(r.iter().cloned());
            }
            o.insert("required".to_owned(), Value::Array(required));
            o.insert("title".to_owned(), json!(name));
            if let Some(d) = &info.schemas.description {
                o.insert("description".to_owned(), json!(d));
            }
        }
        let mut own = body;
        set(&mut own, "title", json!(format!("{name} (body)")));
        if let Some(d) = &info.schemas.description {
            set(&mut own, "description", json!(d));
        }
        schemas.insert(format!("{key}.body"), own);
        schemas.insert(format!("{key}.output"), info.schemas.output.clone());
        schemas.insert(key.clone(), variant);
        variants.push(schema_ref(&key));
        mapping.insert(
            (*name).to_owned(),
            json!(format!("#/components/schemas/{key}")),
        );

        let mut operation = op(
            &format!("submit_{}", key.replace(['.', '-'], "_")),
            &format!("Submit `{name}`"),
            "operator",
            with(accepted(), errors(&["400", "413", "415", "422"])),
        );
        if let Some(d) = &info.schemas.description {
            set(&mut operation, "description", json!(format!("{d}\n\nNeeds the `operator` role. The task's output, once it succeeds, is `#/components/schemas/{key}.output`.")));
        }
        set(&mut operation, "tags", json!(["tasks"]));
        set(&mut operation, "parameters", json!([idempotency_header()]));
        set(
            &mut operation,
            "requestBody",
            json!({ "required": true, "content": json_content(schema_ref(&format!("{key}.body"))) }),
        );
        paths.insert(format!("/api/tasks/{name}"), json!({ "post": operation }));
    }
    for (name, info) in &catalog.workflows {
        let key = format!("workflow.{}", names::encode(name));
        let mut body = info.schemas.body.clone();
        set(
            &mut body,
            "title",
            json!(format!("{name} (workflow arguments)")),
        );
        if let Some(d) = &info.schemas.description {
            set(&mut body, "description", json!(d));
        }
        schemas.insert(format!("{key}.body"), body);
        schemas.insert(format!("{key}.output"), info.schemas.output.clone());
        let mut operation = op(
            &format!("start_{}", key.replace(['.', '-'], "_")),
            &format!("Start the workflow `{name}`"),
            "operator",
            with(
                ok("202", "Started.", schema_ref("taskq.WorkflowStarted")),
                errors(&["400", "404", "413", "415", "422"]),
            ),
        );
        set(&mut operation, "tags", json!(["workflows"]));
        set(
            &mut operation,
            "requestBody",
            json!({ "required": true, "content": json_content(schema_ref(&format!("{key}.body"))) }),
        );
        paths.insert(
            format!("/api/workflows/{name}"),
            json!({ "post": operation }),
        );
    }

    let union = if any_task {
        variants.push(schema_ref("taskq.AnyTask"));
        json!({ "anyOf": variants })
    } else if variants.is_empty() {
        schema_ref("taskq.AnyTask")
    } else {
        json!({ "oneOf": variants, "discriminator": { "propertyName": "task", "mapping": mapping } })
    };
    schemas.insert("taskq.SubmitBody".to_owned(), union);

    let mut submit = op(
        "submit",
        "Submit any registered task",
        "operator",
        with(accepted(), errors(&["400", "404", "413", "415", "422"])),
    );
    set(&mut submit, "tags", json!(["tasks"]));
    set(&mut submit, "description", json!("The body names the task in `task`; its other fields are the task's arguments, and `options` overrides its declared options. Answers `202` with the task's id and a `Location` header; `422` lists every field error; an unknown task is `404`; nothing is enqueued for either. With an `Idempotency-Key`, a retried submit answers the first task (the same key with another body is `422`). Needs the `operator` role."));
    set(&mut submit, "parameters", json!([idempotency_header()]));
    set(
        &mut submit,
        "requestBody",
        json!({ "required": true, "content": json_content(schema_ref("taskq.SubmitBody")) }),
    );
    paths.insert("/api/tasks".to_owned(), json!({ "post": submit }));

    let mut status = op(
        "get_task",
        "A task's state, arguments, result or error",
        "viewer",
        with(
            ok("200", "The task.", schema_ref("taskq.TaskStatus")),
            errors(&["400", "404"]),
        ),
    );
    set(&mut status, "tags", json!(["tasks"]));
    set(&mut status, "parameters", json!([
        path_param("id", "The task's id."),
        query_param("wait", &format!("Wait up to this long for a final state (`30s`, or seconds; at most {max_wait_secs} s), woken by the backend when the task finishes. Answers the current state at the deadline."), json!({ "type": "string" })),
    ]));
    let mut revoke = op(
        "revoke_task",
        "Revoke a task",
        "operator",
        with(
            ok("202", "Revocation done (`removed`) or requested (`signalled`: it stops at its worker's next lease extension).", schema_ref("taskq.Revoked")),
            errors(&["404", "409"]),
        ),
    );
    set(&mut revoke, "tags", json!(["tasks"]));
    set(
        &mut revoke,
        "parameters",
        json!([path_param("id", "The task's id.")]),
    );
    paths.insert(
        "/api/tasks/{id}".to_owned(),
        json!({ "get": status, "delete": revoke }),
    );

    insert_queue_paths(&mut paths);

    let mut health = json!({
        "operationId": "healthz",
        "summary": "Whether the server reaches its backend",
        "security": [],
        "responses": {
            "200": { "description": "Healthy.", "content": json_content(schema_ref("taskq.Health")) },
            "503": { "description": "The backend cannot be reached.", "content": json_content(schema_ref("taskq.Health")) }
        }
    });
    set(&mut health, "tags", json!(["operations"]));
    paths.insert("/healthz".to_owned(), json!({ "get": health }));
    paths.insert("/metrics".to_owned(), json!({ "get": with_tag(op("metrics", "Prometheus metrics (text format)", "viewer", {
        let mut m = Map::new();
        m.insert("200".to_owned(), json!({ "description": "The metrics.", "content": { "text/plain": { "schema": { "type": "string" } } } }));
        m
    }), "operations") }));
    paths.insert("/openapi.json".to_owned(), json!({ "get": with_tag(op("openapi", "This document", "viewer", ok("200", "The OpenAPI document.", json!({ "type": "object" }))), "operations") }));

    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "taskq",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit and follow taskq tasks over HTTP. Every request but `/healthz` needs a token (`Authorization: Bearer tq_...`, or the dashboard's `taskq_token` cookie): `viewer` reads, `operator` also submits, revokes, requeues and pauses, `admin` also purges. Errors are `application/problem+json` (RFC 9457)."
        },
        "tags": [
            { "name": "tasks" }, { "name": "workflows" }, { "name": "queues" },
            { "name": "dead letters" }, { "name": "workers" }, { "name": "events" }, { "name": "operations" }
        ],
        "security": [ { "bearer": [] }, { "cookie": [] } ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Problem": {
                    "description": "An error (RFC 9457 problem details).",
                    "content": { "application/problem+json": { "schema": schema_ref("taskq.Problem") } }
                }
            },
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "An API token, `tq_<id>_<secret>`." },
                "cookie": { "type": "apiKey", "in": "cookie", "name": crate::auth::TOKEN_COOKIE }
            }
        }
    })
}

fn with_tag(mut operation: Value, tag: &str) -> Value {
    set(&mut operation, "tags", json!([tag]));
    operation
}

fn accepted() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "202".to_owned(),
        json!({
            "description": "Accepted: enqueued (or, for a repeated Idempotency-Key, the first submit's task).",
            "headers": { "Location": { "description": "The task's URL.", "schema": { "type": "string" } } },
            "content": json_content(schema_ref("taskq.TaskAccepted"))
        }),
    );
    m
}

fn idempotency_header() -> Value {
    json!({
        "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "Makes a retried submit return the first task (kept 24 h). The same key with a different body answers 422.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255 }
    })
}

fn insert_queue_paths(paths: &mut Map<String, Value>) {
    let q = || path_param("queue", "The queue's name.");
    let tagged = |mut operation: Value, tag: &str, params: Value| {
        set(&mut operation, "tags", json!([tag]));
        set(&mut operation, "parameters", params);
        operation
    };
    paths.insert("/api/queues".to_owned(), json!({ "get": tagged(op("list_queues", "Every queue's counts", "viewer", ok("200", "The queues.", schema_ref("taskq.QueueList"))), "queues", json!([])) }));
    paths.insert("/api/queues/{queue}".to_owned(), json!({
        "get": tagged(op("get_queue", "A queue's counts", "viewer", ok("200", "The queue.", schema_ref("taskq.QueueInfo"))), "queues", json!([q()])),
        "delete": tagged(op("purge_queue", "Delete the queue's waiting tasks (ready and scheduled)", "admin", ok("200", "How many.", schema_ref("taskq.Purged"))), "queues", json!([q()])),
    }));
    paths.insert("/api/queues/{queue}/tasks".to_owned(), json!({ "get": tagged(op("list_queue_tasks", "One page of a queue's tasks", "viewer", with(ok("200", "The page.", schema_ref("taskq.TaskList")), errors(&["400"]))), "queues", json!([
        q(),
        query_param("state", "`ready` (default), `scheduled`, `leased` or `dead`.", json!({ "type": "string", "enum": ["ready", "scheduled", "leased", "dead"] })),
        query_param("cursor", "The `next` of the previous page.", json!({ "type": "string" })),
        query_param("limit", "At most this many (50 by default, at most 500).", json!({ "type": "integer", "minimum": 1, "maximum": 500 })),
    ])) }));
    paths.insert("/api/queues/{queue}/pause".to_owned(), json!({ "post": tagged(op("pause_queue", "Pause a queue: workers take nothing from it", "operator", ok("200", "The queue.", schema_ref("taskq.QueueInfo"))), "queues", json!([q()])) }));
    paths.insert("/api/queues/{queue}/resume".to_owned(), json!({ "post": tagged(op("resume_queue", "Resume a paused queue", "operator", ok("200", "The queue.", schema_ref("taskq.QueueInfo"))), "queues", json!([q()])) }));
    let reason = json!({ "type": "string", "enum": ["unknown_task", "undecodable_arguments", "malformed_message", "attempts_exhausted"] });
    paths.insert("/api/queues/{queue}/dead".to_owned(), json!({
        "get": tagged(op("list_dead", "A queue's dead letters, oldest first", "viewer", with(ok("200", "The dead letters.", schema_ref("taskq.DeadLetterList")), errors(&["400"]))), "dead letters", json!([q(), query_param("limit", "At most this many (100 by default, at most 1000).", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))])),
        "delete": tagged(op("purge_dead", "Delete dead letters (all, or those with a reason)", "admin", with(ok("200", "How many.", schema_ref("taskq.Purged")), errors(&["400", "422"]))), "dead letters", json!([q(), query_param("reason", "Only those dead-lettered for this reason.", reason)])),
    }));
    let mut requeue = tagged(
        op(
            "requeue_dead",
            "Requeue dead letters by ids, by reason, or all",
            "operator",
            with(
                ok("200", "How many.", schema_ref("taskq.Requeued")),
                errors(&["400", "413", "415", "422"]),
            ),
        ),
        "dead letters",
        json!([q()]),
    );
    set(
        &mut requeue,
        "requestBody",
        json!({ "required": true, "content": json_content(schema_ref("taskq.RequeueRequest")) }),
    );
    paths.insert(
        "/api/queues/{queue}/dead/requeue".to_owned(),
        json!({ "post": requeue }),
    );
    paths.insert("/api/workers".to_owned(), json!({ "get": tagged(op("list_workers", "The live workers", "viewer", ok("200", "The workers.", schema_ref("taskq.WorkerList"))), "workers", json!([])) }));
    let mut events = tagged(
        op(
            "events",
            "Events as server-sent events, resumable with Last-Event-ID",
            "viewer",
            {
                let mut m = errors(&["400", "501"]);
                m.insert("200".to_owned(), json!({ "description": "A stream of `text/event-stream` messages: `event:` the kind, `data:` the event (`taskq.Event`), `id:` the cursor to resume after it.", "content": { "text/event-stream": { "schema": { "type": "string" } } } }));
                m
            },
        ),
        "events",
        json!([
            query_param("queue", "Only these queues (comma-separated).", json!({ "type": "string" })),
            query_param("task", "Only this task's events.", json!({ "type": "string", "format": "uuid" })),
            query_param("cursor", "Resume after this cursor (what `Last-Event-ID` carries).", json!({ "type": "string" })),
            { "name": "Last-Event-ID", "in": "header", "required": false, "description": "Resume after this event's id.", "schema": { "type": "string" } }
        ]),
    );
    set(&mut events, "x-taskq-stream", json!(true));
    paths.insert("/api/events".to_owned(), json!({ "get": events }));
}

/// taskq's own bodies.
fn taskq_schemas() -> Map<String, Value> {
    let s = |v: &str| json!({ "type": "string", "description": v });
    let opt_time = |v: &str| json!({ "type": "string", "format": "date-time", "description": v });
    let id = json!({ "type": "string", "format": "uuid" });
    let links = schema_ref("taskq.Links");
    let all = json!({
        "taskq.Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": s("A URI naming the kind of problem."),
                "title": s("The status's reason phrase."),
                "status": { "type": "integer" },
                "detail": s("What went wrong, and what to do about it."),
                "errors": { "type": "array", "items": schema_ref("taskq.FieldError"), "description": "For a 422: every field error." }
            }
        },
        "taskq.FieldError": {
            "type": "object", "required": ["pointer", "detail"],
            "properties": { "pointer": s("A JSON Pointer into the body (`\"\"` for the body itself)."), "detail": s("What is wrong.") }
        },
        "taskq.Links": {
            "type": "object", "required": ["self", "result", "events"],
            "properties": { "self": s("The task."), "result": s("Waits for its result."), "events": s("Its events (SSE).") }
        },
        "taskq.TaskAccepted": {
            "type": "object", "required": ["id", "task", "queue", "state", "links"],
            "properties": {
                "id": id, "task": s("The task's name."), "queue": s("The queue it went to."),
                "state": { "type": "string", "enum": ["pending", "scheduled"] },
                "eta": opt_time("When it may run, if later than now."),
                "links": links
            }
        },
        "taskq.TaskError": {
            "type": "object", "required": ["kind", "message"],
            "properties": { "kind": { "type": "string", "description": "error, panic, timeout, cancelled, expired, rejected" }, "message": s("The error's message.") }
        },
        "taskq.TaskStatus": {
            "type": "object", "required": ["id", "state", "done", "attempts", "links"],
            "properties": {
                "id": id,
                "state": { "type": "string", "enum": ["pending", "scheduled", "running", "retrying", "succeeded", "failed", "cancelled"] },
                "done": { "type": "boolean" },
                "task": s("The task's name."), "queue": s("Its queue."),
                "arguments": { "description": "Its arguments, while the message exists." },
                "attempts": { "type": "integer", "minimum": 0 },
                "max_attempts": { "type": "integer" }, "priority": { "type": "integer" },
                "result": { "description": "The result, when it succeeded (the task's `.output` schema)." },
                "error": schema_ref("taskq.TaskError"),
                "progress": { "description": "Its last progress report." },
                "created_at": opt_time("Enqueued."), "started_at": opt_time("Its last attempt started."),
                "finished_at": opt_time("Finished."), "due_at": opt_time("Due (scheduled)."),
                "lease_deadline": opt_time("Its lease runs out (running)."),
                "worker": s("The worker running it."), "dead_reason": s("Why it is a dead letter."),
                "parent_id": id, "root_id": id, "links": links
            }
        },
        "taskq.Revoked": {
            "type": "object", "required": ["id", "outcome"],
            "properties": { "id": id, "outcome": { "type": "string", "enum": ["removed", "signalled"] } }
        },
        "taskq.QueueInfo": {
            "type": "object", "required": ["name", "ready", "scheduled", "running", "dead", "paused"],
            "properties": {
                "name": s("The queue."), "ready": { "type": "integer" }, "scheduled": { "type": "integer" },
                "running": { "type": "integer" }, "dead": { "type": "integer" }, "paused": { "type": "boolean" },
                "oldest_ready": opt_time("When the oldest ready task became ready.")
            }
        },
        "taskq.QueueList": { "type": "object", "required": ["queues"], "properties": { "queues": { "type": "array", "items": schema_ref("taskq.QueueInfo") } } },
        "taskq.TaskList": {
            "type": "object", "required": ["items"],
            "properties": {
                "items": { "type": "array", "items": { "type": "object", "required": ["id", "state"], "properties": { "id": id, "state": { "type": "string" } } } },
                "next": s("The cursor of the next page."), "total": { "type": "integer" }
            }
        },
        "taskq.DeadLetterList": {
            "type": "object", "required": ["queue", "items"],
            "properties": { "queue": s("The queue."), "items": { "type": "array", "items": { "type": "object", "required": ["id", "queue", "reason", "message"], "properties": { "id": id, "queue": { "type": "string" }, "reason": { "type": "string" }, "message": { "type": "string" } } } } }
        },
        "taskq.RequeueRequest": {
            "type": "object", "additionalProperties": false,
            "description": "Exactly one of `ids`, `reason`, `all`.",
            "properties": {
                "ids": { "type": "array", "items": id, "maxItems": 10000 },
                "reason": { "type": "string", "enum": ["unknown_task", "undecodable_arguments", "malformed_message", "attempts_exhausted"] },
                "all": { "type": "boolean" }
            }
        },
        "taskq.Requeued": { "type": "object", "required": ["requeued"], "properties": { "requeued": { "type": "integer" } } },
        "taskq.Purged": { "type": "object", "required": ["purged"], "properties": { "purged": { "type": "integer" } } },
        "taskq.WorkerList": { "type": "object", "required": ["workers"], "properties": { "workers": { "type": "array", "items": { "type": "object", "required": ["id"], "properties": { "id": { "type": "string" } } } } } },
        "taskq.WorkflowStarted": { "type": "object", "required": ["id", "workflow", "links"], "properties": { "id": id, "workflow": s("The workflow's name."), "links": links } },
        "taskq.Health": { "type": "object", "required": ["status", "backend"], "properties": { "status": { "type": "string", "enum": ["ok", "unavailable"] }, "backend": { "type": "string" }, "error": { "type": "string" } } },
        "taskq.Event": {
            "type": "object", "required": ["kind", "id", "task", "queue", "at"],
            "properties": { "kind": s("enqueued, started, succeeded, failed, retried, ..."), "id": id, "task": { "type": "string" }, "queue": { "type": "string" }, "attempt": { "type": "integer" }, "at": { "type": "integer", "description": "Milliseconds since the Unix epoch." } }
        },
        "taskq.AnyTask": {
            "type": "object", "required": ["task"],
            "description": "A task this server has no schema for: any arguments.",
            "properties": { "task": { "type": "string", "minLength": 1 }, "options": schema_ref(OPTIONS_KEY) }
        }
    });
    match all {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
