//! The Tasks page's filter: queue, state, task name and argument values, and the bounded scan
//! that applies it to the backend's listings (with the "scanned N of M" it shows).
//!
//! An argument filter is either `key=value` (the argument `key`, or a dotted path into it,
//! equals `value`: a string compares as text, anything else as its JSON) or any other text
//! (a case-insensitive substring of the arguments' JSON).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use taskq::backend::{Backend, ListState, TaskSummary};
use taskq::{BackendError, Envelope, Timestamp};

/// Messages scanned at most for one listing.
pub(crate) const SCAN_MAX: usize = 5_000;
/// Matches shown at most.
pub(crate) const SHOW_MAX: usize = 200;
/// Messages asked for per page of a listing.
const PAGE: usize = 500;

/// Which state the Tasks page lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StateFilter {
    /// Every state the backend lists (ready, scheduled, leased, dead).
    Queued,
    /// One of them.
    Ready,
    Scheduled,
    Leased,
    Dead,
    /// Finished recently, from the event log.
    Finished,
}

impl StateFilter {
    pub(crate) const ALL: [StateFilter; 6] = [
        StateFilter::Queued,
        StateFilter::Ready,
        StateFilter::Scheduled,
        StateFilter::Leased,
        StateFilter::Dead,
        StateFilter::Finished,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StateFilter::Queued => "queued",
            StateFilter::Ready => "ready",
            StateFilter::Scheduled => "scheduled",
            StateFilter::Leased => "leased",
            StateFilter::Dead => "dead",
            StateFilter::Finished => "finished",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            StateFilter::Queued => "any queued (ready, scheduled, leased, dead)",
            StateFilter::Ready => "ready",
            StateFilter::Scheduled => "scheduled",
            StateFilter::Leased => "leased (running)",
            StateFilter::Dead => "dead",
            StateFilter::Finished => "recently finished (event log)",
        }
    }

    /// The backend states it lists.
    pub(crate) fn list_states(self) -> &'static [ListState] {
        match self {
            StateFilter::Queued => &ListState::ALL,
            StateFilter::Ready => &[ListState::Ready],
            StateFilter::Scheduled => &[ListState::Scheduled],
            StateFilter::Leased => &[ListState::Leased],
            StateFilter::Dead => &[ListState::Dead],
            StateFilter::Finished => &[],
        }
    }
}

/// The filter, as the page's query string and the bulk action's body carry it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Filter {
    /// One queue; empty for every queue.
    pub queue: String,
    /// The state; `None` for [`StateFilter::Queued`].
    pub state: Option<StateFilter>,
    /// A task name (exact), or a prefix ending in `*`.
    pub task: String,
    /// `key=value` or a substring of the arguments' JSON.
    pub args: String,
}

impl Filter {
    pub(crate) fn state(&self) -> StateFilter {
        self.state.unwrap_or(StateFilter::Queued)
    }

    pub(crate) fn queue(&self) -> Option<&str> {
        Some(self.queue.trim()).filter(|q| !q.is_empty())
    }

    /// The query string of this filter (for fragment URLs and links).
    pub(crate) fn query(&self) -> String {
        use super::layout::enc;
        format!(
            "queue={}&state={}&task={}&args={}",
            enc(self.queue.trim()),
            self.state().as_str(),
            enc(self.task.trim()),
            enc(self.args.trim())
        )
    }

    /// Whether a task named `name` passes the name filter.
    pub(crate) fn name_matches(&self, name: &str) -> bool {
        let want = self.task.trim();
        if want.is_empty() {
            return true;
        }
        match want.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == want,
        }
    }

    /// Whether the message passes the name and argument filters.
    pub(crate) fn envelope_matches(&self, env: &Envelope) -> bool {
        self.name_matches(&env.task) && args_match(self.args.trim(), env.args.as_str())
    }
}

/// Whether the arguments' JSON `raw` passes the argument filter `want`.
pub(crate) fn args_match(want: &str, raw: &str) -> bool {
    if want.is_empty() {
        return true;
    }
    if let Some((key, value)) = want.split_once('=') {
        let key = key.trim();
        if !key.is_empty() && !key.contains(char::is_whitespace) {
            let Ok(args) = serde_json::from_str::<Value>(raw) else {
                return false;
            };
            let mut at = &args;
            for part in key.split('.') {
                at = match at {
                    Value::Object(m) => match m.get(part) {
                        Some(v) => v,
                        None => return false,
                    },
                    Value::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get(i)) {
                        Some(v) => v,
                        None => return false,
                    },
                    _ => return false,
                };
            }
            let value = value.trim();
            return match at {
                Value::String(s) => s == value,
                other => serde_json::from_str::<Value>(value).is_ok_and(|v| &v == other),
            };
        }
    }
    raw.to_lowercase().contains(&want.to_lowercase())
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Matching messages, at most [`SHOW_MAX`] (or every one for a bulk action).
    pub items: Vec<TaskSummary>,
    /// How many matched in all (of the scanned ones).
    pub matched: usize,
    /// How many were scanned.
    pub scanned: usize,
    /// How many there are in the listings scanned (from the queues' counts).
    pub total: usize,
}

impl Scan {
    /// Whether every message of the listings was scanned.
    pub(crate) fn complete(&self) -> bool {
        self.scanned >= self.total
    }
}

/// Scans the backend's listings for `filter`: at most [`SCAN_MAX`] messages, keeping at most
/// `keep` matches, and only messages enqueued at or before `cutoff` when given (so that an
/// "all matching" action never touches a message the operator did not see listed).
pub(crate) async fn scan(
    backend: &Arc<dyn Backend>,
    filter: &Filter,
    keep: usize,
    cutoff: Option<Timestamp>,
) -> Result<Scan, BackendError> {
    let queues = match filter.queue() {
        Some(q) => vec![q.to_owned()],
        None => backend.queues().await?,
    };
    let mut out = Scan::default();
    for q in &queues {
        let stats = backend.queue_stats(q).await?;
        for &state in filter.state().list_states() {
            out.total += match state {
                ListState::Ready => stats.ready,
                ListState::Scheduled => stats.delayed,
                ListState::Leased => stats.running,
                ListState::Dead => stats.dead,
                _ => 0,
            };
        }
    }
    'queues: for q in &queues {
        for &state in filter.state().list_states() {
            let mut cursor: Option<String> = None;
            loop {
                if out.scanned >= SCAN_MAX {
                    break 'queues;
                }
                let limit = PAGE.min(SCAN_MAX - out.scanned);
                let page = backend
                    .list_tasks(q, state, cursor.as_deref(), limit)
                    .await?;
                out.scanned += page.items.len();
                for item in page.items {
                    let Some(env) = &item.envelope else {
                        // A malformed dead letter: only an empty filter shows it.
                        if filter.task.trim().is_empty() && filter.args.trim().is_empty() {
                            out.matched += 1;
                            if out.items.len() < keep {
                                out.items.push(item);
                            }
                        }
                        continue;
                    };
                    if cutoff.is_some_and(|c| env.enqueued_at > c) || !filter.envelope_matches(env)
                    {
                        continue;
                    }
                    out.matched += 1;
                    if out.items.len() < keep {
                        out.items.push(item);
                    }
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
    }
    out.total = out.total.max(out.scanned);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_matches_one_argument() {
        let raw = r#"{"user":"ann","n":3,"to":{"addr":"a@x"},"tags":["x","y"],"ok":true}"#;
        assert!(args_match("user=ann", raw));
        assert!(!args_match("user=an", raw));
        assert!(args_match("n=3", raw));
        assert!(!args_match("n=4", raw));
        assert!(args_match("to.addr=a@x", raw));
        assert!(args_match("tags.1=y", raw));
        assert!(args_match("ok=true", raw));
        assert!(!args_match("missing=1", raw));
    }

    #[test]
    fn other_text_is_a_substring_of_the_json() {
        let raw = r#"{"email":"Ann@Example.com"}"#;
        assert!(args_match("example.com", raw));
        assert!(args_match("", raw));
        assert!(!args_match("bob", raw));
        // A space before `=` is not a key.
        assert!(!args_match("a b=c", raw));
    }

    #[test]
    fn task_names_match_exactly_or_by_prefix() {
        let f = Filter {
            task: "emails.*".into(),
            ..Filter::default()
        };
        assert!(f.name_matches("emails.send"));
        assert!(!f.name_matches("tasks.add"));
        let f = Filter {
            task: "tasks.add".into(),
            ..Filter::default()
        };
        assert!(f.name_matches("tasks.add") && !f.name_matches("tasks.addx"));
    }

    #[test]
    fn the_query_round_trips_through_serde() {
        let f = Filter {
            queue: "q 1".into(),
            state: Some(StateFilter::Dead),
            task: "t".into(),
            args: "a=b".into(),
        };
        let q = f.query();
        assert_eq!(q, "queue=q%201&state=dead&task=t&args=a%3Db");
    }
}
