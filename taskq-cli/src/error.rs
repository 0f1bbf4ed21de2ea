//! What can go wrong, and the exit status each failure gives: 1 when the thing asked about does
//! not exist, 2 for every other error (clap's own usage errors exit with 2 as well).

use std::process::ExitCode;

use taskq::TaskId;

/// Everything the CLI reports as an error. Each message is one line, saying what was wrong and,
/// where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// No backend URL was given.
    #[error("no backend given: pass `--url URL` or set TASKQ_URL (for example `redis://127.0.0.1:6379/0`)")]
    NoUrl,

    /// The URL does not parse, or names a scheme no linked backend handles.
    #[error("malformed URL `{url}`: {detail}")]
    BadUrl {
        /// The URL as given (with any password hidden).
        url: String,
        /// What is wrong with it.
        detail: String,
    },

    /// The server does not answer.
    #[error("cannot reach {url}: {detail}; is the server running?")]
    Unreachable {
        /// The URL (with any password hidden).
        url: String,
        /// The client library's error.
        detail: String,
    },

    /// `--args` (or a workflow's arguments) is not valid JSON.
    #[error("invalid JSON arguments `{text}`: {source}")]
    BadJson {
        /// The text given, shortened.
        text: String,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// `--args` is JSON, but not an object or an array.
    #[error("invalid JSON arguments `{text}`: expected an object of the task's parameters (`{{\"to\": \"ann\"}}`) or an array of them in order, not {found}")]
    ArgsNotObject {
        /// The text given, shortened.
        text: String,
        /// What it is instead (`a number`).
        found: &'static str,
    },

    /// The backend knows nothing of this task.
    #[error("no task {id} is known to the backend (never sent, or its result expired)")]
    TaskNotFound {
        /// The id asked about.
        id: TaskId,
    },

    /// The task has finished, so there is nothing to revoke.
    #[error("task {id} already {state}; nothing to revoke")]
    AlreadyFinished {
        /// The task.
        id: TaskId,
        /// Its final state (`succeeded`).
        state: &'static str,
    },

    /// `--wait` ran out.
    #[error("no result for task {id} within {waited}; it may still be queued or running")]
    WaitTimedOut {
        /// The task.
        id: TaskId,
        /// How long we waited, as given.
        waited: String,
    },

    /// A destructive command was not confirmed.
    #[error(
        "refusing to {what} without confirmation: pass `--yes` (standard input is not a terminal)"
    )]
    NotConfirmed {
        /// What would have been done (`purge queue \`emails\``).
        what: String,
    },

    /// The user answered no.
    #[error("{0}: cancelled, nothing changed")]
    Declined(String),

    /// No schedule has this id.
    #[error("no schedule `{id}` (see `taskq schedule list`)")]
    ScheduleNotFound {
        /// The id asked about.
        id: String,
    },

    /// A schedule given on the command line is invalid (cron, time zone, interval).
    #[error("{0}")]
    Schedule(#[from] taskq::schedule::ScheduleError),

    /// The backend failed, or a task-level error that is an error for the CLI.
    #[error("{0}")]
    Taskq(#[from] taskq::Error),

    /// A backend call failed.
    #[error("{0}")]
    Backend(#[from] taskq::BackendError),

    /// The web server could not be configured or could not serve.
    #[error("{0}")]
    Web(#[from] taskq_web::WebError),

    /// A token could not be made.
    #[error("{0}")]
    Token(#[from] taskq_web::token::TokenError),

    /// Writing the output failed (other than a closed pipe, which ends quietly).
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),

    /// Output could not be rendered as JSON.
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl CliError {
    /// The process exit status: 1 for "not found", 2 for any other error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::TaskNotFound { .. }
            | CliError::AlreadyFinished { .. }
            | CliError::ScheduleNotFound { .. } => ExitCode::from(1),
            _ => ExitCode::from(2),
        }
    }

    /// Whether this is stdout closing under us (`taskq events --follow | head`): not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// At most 60 characters of `text`, for quoting user input in a one-line message.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX {
        return one_line;
    }
    let mut s: String = one_line.chars().take(MAX - 1).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_1_and_the_rest_2() {
        let id = TaskId::new();
        assert_eq!(CliError::TaskNotFound { id }.exit_code(), ExitCode::from(1));
        assert_eq!(CliError::NoUrl.exit_code(), ExitCode::from(2));
    }

    #[test]
    fn quotes_are_one_short_line() {
        assert_eq!(shorten("{\"a\":\n1}"), "{\"a\": 1}");
        let long = "x".repeat(100);
        assert_eq!(shorten(&long).chars().count(), 60);
    }
}
