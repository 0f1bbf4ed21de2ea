//! `/tasks`: messages by queue, state, task name and argument values (a bounded scan of the
//! backend's listings, showing "scanned N of M"), or the recently finished ones from the event
//! log; bulk retry / revoke / delete of a selection or of everything matching; and a form to
//! enqueue a task, generated from its schema.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use taskq::backend::{ListState, TaskSummary};
use taskq::Timestamp;

use crate::auth::{Principal, Role};
use crate::state::AppState;

use super::filter::{self, Filter, StateFilter, SHOW_MAX};
use super::layout::{badge, enc, may, num, render, shorten, when, Frame, Nav};
use super::{Dash, Viewer};

/// The page.
pub(crate) async fn page(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    Query(filter): Query<Filter>,
) -> Html<String> {
    let queues = app.client.backend().queues().await.unwrap_or_default();
    let act = may(&who, Role::Operator);
    let list = list(&app, &dash, &filter, &who).await;
    let body = html! {
        form.filters method="get" action="/tasks" {
            label { "Queue"
                select name="queue" {
                    option value="" selected[filter.queue().is_none()] { "every queue" }
                    @for q in &queues {
                        option value=(q) selected[filter.queue() == Some(q.as_str())] { (q) }
                    }
                }
            }
            label { "State"
                select name="state" {
                    @for s in StateFilter::ALL {
                        option value=(s.as_str()) selected[filter.state() == s] { (s.label()) }
                    }
                }
            }
            label { "Task"
                input name="task" value=(filter.task) placeholder="tasks.add or emails.*" list="task-names";
            }
            label.wide { "Arguments"
                input name="args" value=(filter.args) placeholder="user=42, to.addr=a@b, or any text";
            }
            button type="submit" { "Filter" }
            datalist #task-names {
                @for name in app.catalog.tasks.keys() { option value=(name) {} }
            }
        }
        @if act {
            div.bulk #bulk {
                span #bulk-count.muted { "no selection: actions apply to everything matching" }
                button.act data-bulk="retry" title="requeue dead letters" { "Retry" }
                button.act data-bulk="revoke" title="revoke queued, scheduled or running tasks" { "Revoke" }
                @if may(&who, Role::Admin) {
                    button.act.danger data-bulk="delete" title="delete waiting tasks and purge dead letters" { "Delete" }
                }
            }
        }
        div #frag hx-get=(format!("/ui/frag/tasks?{}", filter.query())) hx-trigger="sse:changed"
            hx-sync="this:queue last" data-filter=(serde_json::to_string(&filter).unwrap_or_default()) {
            (list)
        }
        @if act && !app.catalog.tasks.is_empty() {
            details.enqueue #enqueue {
                summary { "Enqueue a task" }
                label { "Task "
                    select name="task" hx-get="/ui/frag/enqueue" hx-target="#enqueue-form" hx-trigger="change, load" {
                        @for name in app.catalog.tasks.keys() { option value=(name) { (name) } }
                    }
                }
                div #enqueue-form {}
            }
        }
    };
    let stream = match filter.queue() {
        Some(q) => format!("/ui/stream?page=tasks&queue={}", enc(q)),
        None => "/ui/stream?page=tasks".to_owned(),
    };
    Html(
        render(
            Frame {
                title: "Tasks",
                nav: Nav::Tasks,
                who: Some(&who),
                stream: Some(stream),
            },
            body,
        )
        .into_string(),
    )
}

/// The fragment: the list for a filter.
pub(crate) async fn fragment(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    Query(filter): Query<Filter>,
) -> Html<String> {
    Html(list(&app, &dash, &filter, &who).await.into_string())
}

async fn list(app: &AppState, dash: &Dash, filter: &Filter, who: &Principal) -> Markup {
    let act = may(who, Role::Operator);
    let now = Timestamp::now();
    if filter.state() == StateFilter::Finished {
        let live = dash.live(app).await;
        let rows = live.recent(SHOW_MAX, |f| {
            filter.queue().is_none_or(|q| q == f.queue) && filter.name_matches(&f.task)
        });
        return html! {
            div.listing data-matched=(rows.len()) data-cutoff=(now.as_millis()) {
                p.muted { (rows.len()) " recently finished (newest first, from the event log; "
                    "argument filters do not apply: finished events do not carry arguments)" }
                div.scroll { table.data #tasks {
                    thead { tr { th { "Task" } th { "Id" } th { "Queue" } th { "Outcome" } th { "Attempt" } th { "When" } th { "Detail" } } }
                    tbody {
                        @for f in &rows {
                            tr data-id=(f.id) {
                                td { (f.task) }
                                td.id { a href=(format!("/tasks/{}", f.id)) { (short_id(&f.id.to_string())) } }
                                td { (f.queue) }
                                td { (badge(f.kind.as_str())) }
                                td.n { (f.attempt) }
                                td { (when(f.at)) }
                                td.detail { (shorten(f.detail.as_deref().unwrap_or(""), 80)) }
                            }
                        }
                    }
                } }
            }
        };
    }
    let scan = filter::scan(app.client.backend(), filter, SHOW_MAX, None).await;
    let scan = match scan {
        Ok(s) => s,
        Err(e) => return html! { p.error { "The backend did not answer: " (e) } },
    };
    html! {
        div.listing data-matched=(scan.matched) data-cutoff=(now.as_millis()) {
            p.scanned #scanned {
                (num(scan.matched)) " matching · scanned " (num(scan.scanned)) " of " (num(scan.total))
                @if !scan.complete() { " (the scan stops at " (num(filter::SCAN_MAX)) "; narrow the filter to see the rest)" }
                @if scan.matched > scan.items.len() { " · showing the first " (scan.items.len()) }
            }
            @if scan.items.is_empty() {
                p.muted.empty { "Nothing matches." }
            } @else {
                div.scroll { table.data #tasks {
                    thead { tr {
                        @if act { th.sel { input type="checkbox" #select-all title="select all shown"; } }
                        th { "Task" } th { "Id" } th { "Queue" } th { "State" } th { "Arguments" } th { "Attempt" } th { "Since" }
                    } }
                    tbody {
                        @for item in &scan.items { (row(item, act)) }
                    }
                } }
            }
        }
    }
}

fn row(item: &TaskSummary, act: bool) -> Markup {
    let env = item.envelope.as_ref();
    let since = match item.state {
        ListState::Scheduled => item.due_at,
        ListState::Dead => item.dead_at,
        ListState::Leased => item.lease_deadline,
        _ => env.map(|e| e.enqueued_at),
    };
    html! {
        tr data-id=(item.id) data-state=(item.state.as_str()) data-queue=[env.map(|e| e.queue.as_str())] {
            @if act { td.sel { input type="checkbox" class="pick" value=(item.id); } }
            td { (env.map_or("(malformed)", |e| e.task.as_str())) }
            td.id { a href=(format!("/tasks/{}", item.id)) { (short_id(&item.id.to_string())) } }
            td { (env.map_or("", |e| e.queue.as_str())) }
            td { (badge(item.state.as_str()))
                @if let Some(r) = item.reason { " " span.muted { (reason_name(r)) } } }
            td.args { code { (shorten(env.map_or("", |e| e.args.as_str()), 90)) } }
            td.n { (env.map_or(0, |e| e.attempt)) }
            td { @if let Some(t) = since { (when(t)) } }
        }
    }
}

/// The first 8 characters of an id (the full one is in the link and the title).
pub(crate) fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A dead-letter reason's name.
pub(crate) fn reason_name(r: taskq::DeadLetterReason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{r:?}"))
}

/// Which task the enqueue form is for.
#[derive(Debug, Deserialize)]
pub(crate) struct Which {
    task: String,
}

/// The enqueue form of one task, generated from its argument schema; the script posts it as
/// JSON to `POST /api/tasks/{name}`.
pub(crate) async fn enqueue_form(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Query(which): Query<Which>,
) -> Html<String> {
    let Some(info) = app.catalog.tasks.get(which.task.as_str()) else {
        return Html(
            html! { p.error { "No task named " code { (which.task) } " is registered." } }
                .into_string(),
        );
    };
    if !may(&who, Role::Operator) {
        return Html(html! { p.muted { "Enqueuing needs the operator role." } }.into_string());
    }
    let schema = (info.entry.schema)(&mut taskq::schema::SchemaGen::new());
    Html(form(info.entry.name, info.entry.options.queue, &schema).into_string())
}

/// The form for `schema`'s arguments.
pub(crate) fn form(name: &str, queue: &str, schema: &taskq::schema::TaskSchema) -> Markup {
    let empty = serde_json::Map::new();
    let props = schema
        .args
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = schema
        .args
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        // The API validates (every field error at once); the browser does not.
        form.enqueue-form #enqueue-task data-task=(name) novalidate {
            @if let Some(d) = &schema.description { p.muted { (d) } }
            // Required arguments first (the schema's properties come in name order).
            @for (field, s) in props.iter().filter(|(f, _)| required.contains(&f.as_str())) {
                (input(field, s, true))
            }
            @for (field, s) in props.iter().filter(|(f, _)| !required.contains(&f.as_str())) {
                (input(field, s, false))
            }
            fieldset.options {
                legend { "Options" }
                label { "queue " input name="queue" data-option="queue" placeholder=(queue); }
                label { "countdown " input name="countdown" data-option="countdown" placeholder="10s"; }
                label { "priority " input name="priority" data-option="priority" inputmode="numeric" placeholder="0-255"; }
            }
            button type="submit" { "Enqueue" }
            div.result #enqueue-result {}
        }
    }
}

/// One argument's input: text, number, checkbox, a select for an enum, or JSON for the rest.
fn input(field: &str, s: &Value, required: bool) -> Markup {
    let ty = s.get("type").and_then(|t| match t {
        Value::String(t) => Some(t.as_str()),
        // `["string", "null"]` (an Option): the non-null type.
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    });
    let desc = s.get("description").and_then(Value::as_str);
    let choices: Option<Vec<&Value>> = s
        .get("enum")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect());
    let id = format!("arg-{field}");
    html! {
        div.field {
            label for=(id) { code { (field) } @if required { span.req title="required" { " *" } }
                @if let Some(ty) = ty { span.muted { " " (ty) } } }
            @if let Some(choices) = choices {
                select #(id) data-arg=(field) data-kind="json" {
                    @for c in choices { option value=(c.to_string()) { (c.to_string()) } }
                }
            } @else {
                @match ty {
                    Some("string") => input #(id) data-arg=(field) data-kind="string" required[required];
                    // Text inputs, not `type=number` (which drops what is not a number): what is
                    // typed reaches the API, whose 422 names the field.
                    Some("integer") => input #(id) data-arg=(field) data-kind="number" inputmode="numeric" required[required];
                    Some("number") => input #(id) data-arg=(field) data-kind="number" inputmode="decimal" required[required];
                    Some("boolean") => input #(id) data-arg=(field) data-kind="boolean" type="checkbox";
                    _ => textarea #(id) data-arg=(field) data-kind="json" rows="2" placeholder="JSON" required[required] {}
                }
            }
            @if let Some(d) = desc { small.muted { (d) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_one_input_per_argument_of_the_right_kind() {
        let schema = taskq::schema::TaskSchema {
            description: Some("Adds.".into()),
            args: serde_json::json!({
                "type": "object",
                "properties": {
                    "a": {"type": "integer", "description": "The argument `a`."},
                    "name": {"type": "string"},
                    "opt": {"type": ["number", "null"]},
                    "flag": {"type": "boolean"},
                    "mode": {"enum": ["fast", "slow"]},
                    "point": {"$ref": "#/components/schemas/Point"}
                },
                "required": ["a", "name"]
            }),
            output: serde_json::json!({}),
        };
        let html = form("tasks.add", "default", &schema).into_string();
        assert!(
            html.contains(r#"data-arg="a" data-kind="number" inputmode="numeric" required"#),
            "{html}"
        );
        assert!(
            html.contains(r#"data-arg="name" data-kind="string" required"#),
            "{html}"
        );
        assert!(
            html.contains(r#"data-arg="opt" data-kind="number" inputmode="decimal">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"data-arg="flag" data-kind="boolean" type="checkbox""#),
            "{html}"
        );
        assert!(
            html.contains(r#"<option value="&quot;fast&quot;">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"data-arg="point" data-kind="json""#),
            "{html}"
        );
        assert!(html.contains("Adds."), "{html}");
        assert!(html.contains("novalidate"), "{html}");
    }
}
