//! `/tasks/{id}`: one task: its arguments, result or error (with the failure kind), progress,
//! times, each attempt on a timeline (from the event log), its parent / root and the children
//! still queued, and for a workflow step the graph of the steps it leads to, each with its
//! state.
//!
//! What cannot be shown: the children of a task that already finished (the backend indexes
//! messages by queue, not by parent), and the steps of a workflow before this one (a step's
//! message carries only the part of the plan it leads to, and only while it exists).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};
use taskq::backend::{ListState, TaskDetail};
use taskq::canvas::plan::Continuation;
use taskq::events::{Event, EventKind};
use taskq::{Outcome, TaskId, TaskState};

use crate::auth::{Principal, Role};
use crate::state::AppState;

use super::layout::{badge, json_text, may, render, span_ms, time, when, Frame, Nav};
use super::tasks::reason_name;
use super::{Dash, Viewer};

/// Messages scanned for children.
const CHILD_SCAN: usize = 2_000;

/// The page.
pub(crate) async fn page(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<TaskId>() else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            Html("not a task id".to_owned()),
        )
            .into_response();
    };
    let detail = app.client.backend().inspect(id).await;
    let queue = detail
        .as_ref()
        .ok()
        .and_then(|d| d.as_ref())
        .and_then(|d| d.queue.clone());
    let body = html! {
        div #frag hx-get=(format!("/ui/frag/task/{id}")) hx-trigger="sse:changed" hx-sync="this:queue last" {
            (body(&app, &dash, id, &who, detail).await)
        }
    };
    let stream = match &queue {
        Some(q) => format!(
            "/ui/stream?page=task&id={id}&queue={}",
            super::layout::enc(q)
        ),
        None => format!("/ui/stream?page=task&id={id}"),
    };
    Html(
        render(
            Frame {
                title: &format!("Task {}", super::tasks::short_id(&id.to_string())),
                nav: Nav::Tasks,
                who: Some(&who),
                stream: Some(stream),
            },
            body,
        )
        .into_string(),
    )
    .into_response()
}

/// The fragment.
pub(crate) async fn fragment(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Extension(dash): Extension<Arc<Dash>>,
    Path(id): Path<TaskId>,
) -> Html<String> {
    let detail = app.client.backend().inspect(id).await;
    Html(body(&app, &dash, id, &who, detail).await.into_string())
}

async fn body(
    app: &AppState,
    dash: &Dash,
    id: TaskId,
    who: &Principal,
    detail: Result<Option<TaskDetail>, taskq::BackendError>,
) -> Markup {
    let events = dash.live(app).await.events_of(id);
    let detail = match detail {
        Err(e) => return html! { p.error { "The backend did not answer: " (e) } },
        Ok(None) if events.is_empty() => {
            return html! { p.muted.empty #task-state data-state="unknown" {
            "The backend knows nothing of task " code { (id) } " (never sent, or its result expired)." } }
        }
        Ok(d) => d,
    };
    let state_name = detail.as_ref().map_or_else(
        || "unknown".to_owned(),
        |d| {
            if d.dead_reason.is_some() {
                "dead".to_owned()
            } else {
                state_str(d.state).to_owned()
            }
        },
    );
    let env = detail.as_ref().and_then(|d| d.envelope.as_ref());
    let task = detail
        .as_ref()
        .and_then(|d| d.task.clone())
        .or_else(|| events.first().map(|e| e.task.to_string()))
        .unwrap_or_default();
    let queue = detail
        .as_ref()
        .and_then(|d| d.queue.clone())
        .or_else(|| events.first().map(|e| e.queue.to_string()))
        .unwrap_or_default();
    let children = children(app, id).await;
    let final_state = detail.as_ref().is_some_and(|d| d.state.is_final());
    let is_dead = detail.as_ref().is_some_and(|d| d.dead_reason.is_some());
    html! {
        section.task-head {
            div { span.task-name { (task) } " " span #task-state data-state=(state_name) { (badge(&state_name)) } }
            div.muted { "id " code { (id) } " · queue " a href=(format!("/tasks?queue={}", super::layout::enc(&queue))) { (queue) } }
            @if may(who, Role::Operator) {
                div.actions {
                    @if is_dead {
                        button.act data-action="requeue" data-queue=(queue) data-id=(id) { "Requeue" }
                        @if may(who, Role::Admin) {
                            button.act.danger data-action="purge" data-queue=(queue) data-id=(id) { "Purge" }
                        }
                    } @else if !final_state && detail.is_some() {
                        button.act.danger data-action="revoke" data-id=(id) { "Revoke" }
                    }
                }
            }
        }
        @if let Some(d) = &detail {
            dl.facts {
                @if let Some(t) = d.created_at { dt { "Created" } dd { (time(t)) " (" (when(t)) ")" } }
                @if let Some(t) = d.due_at { dt { "Due" } dd { (time(t)) " (" (when(t)) ")" } }
                @if let Some(t) = d.started_at { dt { "Started" } dd { (time(t)) " (" (when(t)) ")" } }
                @if let Some(t) = d.finished_at { dt { "Finished" } dd { (time(t)) " (" (when(t)) ")" } }
                @if let Some(t) = d.lease_deadline { dt { "Lease until" } dd { (time(t)) } }
                @if let Some(w) = &d.worker { dt { "Worker" } dd { (w) } }
                dt { "Attempt" } dd { (d.attempt) @if let Some(e) = env { " of " (e.max_attempts) } }
                @if let Some(r) = d.dead_reason { dt { "Dead because" } dd { (reason_name(r)) } }
                @if let Some(e) = env {
                    @if let Some(p) = e.parent_id { dt { "Parent" } dd { a href=(format!("/tasks/{p}")) { code { (p) } } } }
                    @if let Some(r) = e.root_id { dt { "Root" } dd { a href=(format!("/tasks/{r}")) { code { (r) } } } }
                    dt { "Priority" } dd { (e.priority) }
                }
            }
            @if let Some(a) = &d.args {
                h2 { "Arguments" }
                pre.json #task-args { (json_text(a.as_str(), 0)) }
            }
            @match &d.outcome {
                Some(Outcome::Success(v)) => {
                    h2 { "Result" }
                    pre.json #task-result { (json_text(v.as_str(), 0)) }
                }
                Some(Outcome::Failure(f)) => {
                    h2 { "Error" }
                    p.error #task-error { span.badge.s-failed { (f.kind.to_string()) } " " (f.message) }
                }
                _ => {}
            }
            @if let Some(p) = &d.progress {
                h2 { "Progress" }
                pre.json { (json_text(p.as_str(), 0)) }
            }
        }
        h2 { "Attempts" }
        (timeline(&events))
        @if !children.is_empty() {
            h2 { "Children still queued" }
            ul { @for (cid, name, state) in &children {
                li { a href=(format!("/tasks/{cid}")) { code { (super::tasks::short_id(&cid.to_string())) } } " " (name) " " (badge(state)) }
            } }
        }
        @if let Some(c) = env.and_then(|e| e.continuation.as_ref()).and_then(|c| c.decode::<Continuation>().ok()) {
            h2 { "Workflow " span.muted { "(this step and the steps it leads to)" } }
            (graph(app, &c).await)
        }
    }
}

fn state_str(s: TaskState) -> &'static str {
    match s {
        TaskState::Pending => "pending",
        TaskState::Scheduled => "scheduled",
        TaskState::Running => "running",
        TaskState::Retrying => "retrying",
        TaskState::Succeeded => "succeeded",
        TaskState::Failed => "failed",
        TaskState::Cancelled => "cancelled",
        _ => "unknown",
    }
}

/// The events of the task grouped by attempt, as a timeline.
fn timeline(events: &[Event]) -> Markup {
    if events.is_empty() {
        return html! { p.muted { "No events of this task are retained (the event log is capped; events may be off)." } };
    }
    let first = events.first().map_or(0, |e| e.at.as_millis());
    let last = events.last().map_or(0, |e| e.at.as_millis());
    let span = (last - first).max(1) as f64;
    html! {
        ol.timeline #timeline {
            @for e in events {
                li class=(format!("ev k-{}", e.kind.as_str())) style=(format!("--at:{:.3}", (e.at.as_millis() - first) as f64 / span)) {
                    span.when { (time(e.at)) }
                    " " (badge(e.kind.as_str()))
                    @if e.attempt > 0 { " attempt " (e.attempt) }
                    @if let Some(ms) = e.wait_ms { " · waited " (span_ms(ms)) }
                    @if let Some(ms) = e.runtime_ms { " · ran " (span_ms(ms)) }
                    @if let Some(w) = &e.worker { " · on " (w.as_ref()) }
                    @if let Some(r) = e.reason { " · " (reason_name(r)) }
                    @if e.kind == EventKind::Progress {
                        @if let Some(d) = &e.detail { " · " code { (d) } }
                    } @else {
                        @match (e.failure, &e.detail) {
                            (Some(k), Some(d)) => { " · " span.err { (k.to_string()) ": " (d) } }
                            (None, Some(d)) => { " · " (d) }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

/// Queued messages whose parent is `id` (a bounded scan).
async fn children(app: &AppState, id: TaskId) -> Vec<(TaskId, String, &'static str)> {
    let backend = app.client.backend();
    // Children may go to any queue: look at every one, bounded in all.
    let queues = backend.queues().await.unwrap_or_default();
    let mut out = Vec::new();
    let mut scanned = 0;
    for q in &queues {
        for state in [ListState::Ready, ListState::Scheduled, ListState::Leased] {
            if scanned >= CHILD_SCAN {
                return out;
            }
            let Ok(page) = backend
                .list_tasks(q, state, None, CHILD_SCAN - scanned)
                .await
            else {
                continue;
            };
            scanned += page.items.len();
            for item in page.items {
                if let Some(env) = &item.envelope {
                    if env.parent_id == Some(id) {
                        out.push((item.id, env.task.clone(), state.as_str()));
                    }
                }
            }
        }
    }
    out
}

/// The steps of a workflow plan from this step on, each with its state, in layers.
async fn graph(app: &AppState, c: &Continuation) -> Markup {
    let steps = &c.plan.steps;
    // The depth of each step from this one (a longest path: the plan is acyclic).
    let mut depth = vec![0usize; steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for e in &s.edges {
            let to = e.to as usize;
            if to < depth.len() && to > i {
                depth[to] = depth[to].max(depth[i] + 1);
            }
        }
    }
    let mut states = Vec::new();
    for s in steps {
        let st = match app.client.backend().inspect(s.template.id).await {
            Ok(Some(d)) if d.dead_reason.is_some() => "dead",
            Ok(Some(d)) => state_str(d.state),
            _ => "pending",
        };
        states.push(st);
    }
    let layers = depth.iter().copied().max().map_or(0, |m| m + 1);
    html! {
        div.graph #workflow data-workflow=(c.plan.workflow) {
            @for layer in 0..layers {
                div.layer {
                    @for (i, s) in steps.iter().enumerate().filter(|(i, _)| depth[*i] == layer) {
                        a href=(format!("/tasks/{}", s.template.id)) class=(format!("step s-{}", states[i])) data-state=(states[i]) {
                            span.name { (s.name) }
                            (badge(states[i]))
                            @if !s.edges.is_empty() {
                                span.muted.edges { "→ " @for (k, e) in s.edges.iter().enumerate() {
                                    @if k > 0 { ", " }
                                    (steps.get(e.to as usize).map_or("?", |t| t.name.as_str()))
                                } }
                            }
                            @if s.template.id == c.plan.workflow { span.muted { " (result)" } }
                        }
                    }
                }
            }
        }
    }
}
