//! `/dead`: dead letters grouped by queue and reason; requeue (operator) or purge (admin) one,
//! a selection, or all with one reason, each after a confirmation.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use maud::{html, Markup};
use serde::Deserialize;
use taskq::DeadLetter;

use crate::auth::{Principal, Role};
use crate::state::AppState;

use super::layout::{enc, may, num, render, shorten, when, Frame, Nav};
use super::tasks::{reason_name, short_id};
use super::Viewer;

/// Dead letters read per queue.
const SHOWN: usize = 500;

/// Which queue.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Which {
    queue: String,
}

/// The page.
pub(crate) async fn page(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Query(which): Query<Which>,
) -> Html<String> {
    let q = Some(which.queue.as_str()).filter(|q| !q.is_empty());
    let list = body(&app, q, &who).await;
    let act = may(&who, Role::Operator);
    let frag = match q {
        Some(q) => format!("/ui/frag/dead?queue={}", enc(q)),
        None => "/ui/frag/dead".to_owned(),
    };
    let body = html! {
        @if act {
            div.bulk #bulk {
                span #bulk-count.muted { "select dead letters to act on several" }
                button.act data-dead-bulk="requeue" { "Requeue selected" }
                @if may(&who, Role::Admin) {
                    button.act.danger data-dead-bulk="purge" { "Purge selected" }
                }
            }
        }
        div #frag hx-get=(frag) hx-trigger="sse:changed" hx-sync="this:queue last" { (list) }
    };
    let stream = match q {
        Some(q) => format!("/ui/stream?page=dead&queue={}", enc(q)),
        None => "/ui/stream?page=dead".to_owned(),
    };
    Html(
        render(
            Frame {
                title: "Dead letters",
                nav: Nav::Dead,
                who: Some(&who),
                stream: Some(stream),
            },
            body,
        )
        .into_string(),
    )
}

/// The fragment.
pub(crate) async fn fragment(
    Viewer(who): Viewer,
    State(app): State<Arc<AppState>>,
    Query(which): Query<Which>,
) -> Html<String> {
    let q = Some(which.queue.as_str()).filter(|q| !q.is_empty());
    Html(body(&app, q, &who).await.into_string())
}

async fn body(app: &AppState, queue: Option<&str>, who: &Principal) -> Markup {
    let backend = app.client.backend();
    let queues = match queue {
        Some(q) => vec![q.to_owned()],
        None => match backend.queues().await {
            Ok(q) => q,
            Err(e) => return html! { p.error { "The backend did not answer: " (e) } },
        },
    };
    let mut groups: BTreeMap<(String, String), Vec<DeadLetter>> = BTreeMap::new();
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    for q in &queues {
        let stats = backend.queue_stats(q).await.map(|s| s.dead).unwrap_or(0);
        if stats == 0 {
            continue;
        }
        totals.insert(q.clone(), stats);
        match backend.dead_letters(q, SHOWN).await {
            Ok(list) => {
                for d in list {
                    groups
                        .entry((q.clone(), reason_name(d.reason)))
                        .or_default()
                        .push(d);
                }
            }
            Err(e) => return html! { p.error { "The backend did not answer: " (e) } },
        }
    }
    let operator = may(who, Role::Operator);
    let admin = may(who, Role::Admin);
    html! {
        @if groups.is_empty() {
            p.muted.empty #no-dead { "No dead letters." }
        }
        @for ((q, reason), items) in &groups {
            section.group data-queue=(q) data-reason=(reason) {
                h2 {
                    (q) " · " (reason) " "
                    span.count { (num(items.len())) }
                    @if totals.get(q).is_some_and(|t| *t > SHOWN) { span.muted { " (the oldest " (SHOWN) " of " (num(totals[q])) " are listed)" } }
                }
                @if operator {
                    div.actions {
                        button.act data-action="requeue-reason" data-queue=(q) data-reason=(reason) data-count=(items.len()) { "Requeue all " (reason) }
                        @if admin {
                            button.act.danger data-action="purge-reason" data-queue=(q) data-reason=(reason) data-count=(items.len()) { "Purge all " (reason) }
                        }
                    }
                }
                div.scroll { table.data.dead {
                    thead { tr {
                        @if operator { th.sel {} }
                        th { "Task" } th { "Id" } th { "Error" } th { "Dead since" } th { "Arguments" }
                        @if operator { th {} }
                    } }
                    tbody {
                        @for d in items {
                            tr data-id=(d.id) data-queue=(q) {
                                @if operator { td.sel { input type="checkbox" class="pick" value=(d.id) data-queue=(q); } }
                                td { (d.envelope.as_ref().map_or("(malformed)", |e| e.task.as_str())) }
                                td.id { a href=(format!("/tasks/{}", d.id)) { (short_id(&d.id.to_string())) } }
                                td.detail { (shorten(&d.message, 120)) }
                                td { (when(d.at)) }
                                td.args { code { (shorten(d.envelope.as_ref().map_or(d.raw.as_deref().unwrap_or(""), |e| e.args.as_str()), 60)) } }
                                @if operator {
                                    td.actions {
                                        button.act.requeue data-action="requeue" data-queue=(q) data-id=(d.id) { "Requeue" }
                                        @if admin {
                                            button.act.danger data-action="purge" data-queue=(q) data-id=(d.id) { "Purge" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
    }
}
