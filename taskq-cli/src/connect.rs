//! From `--url` / `TASKQ_URL` to a connected [`Client`], with the errors a person can act on: no
//! URL, a malformed one, a scheme no linked backend handles, a server that does not answer.

use std::time::Duration;

use taskq::{BackendError, Client, ConfigError};

use crate::error::CliError;

/// How long a command keeps retrying when the connection drops in the middle of it. The
/// library's default (30 s) suits a worker riding out a Redis restart; a person at a prompt
/// would rather hear at once.
const PATIENCE: Duration = Duration::from_secs(5);

/// Connects to the backend `url` names.
pub async fn connect(url: Option<&str>) -> Result<Client, CliError> {
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    let url = url.ok_or(CliError::NoUrl)?;
    let scheme = check_shape(url)?;
    let connected = if scheme.eq_ignore_ascii_case("redis") {
        taskq_redis::RedisBackend::builder(url)
            .reconnect_timeout(PATIENCE)
            .connect()
            .await
            .map(|b| Client::new(std::sync::Arc::new(b)))
            .map_err(taskq::Error::from)
    } else {
        Client::connect(url).await
    };
    connected.map_err(|e| classify(url, e))
}

/// Checks that `url` looks like `scheme://rest` and returns the scheme.
fn check_shape(url: &str) -> Result<&str, CliError> {
    let bad = |detail: &str| CliError::BadUrl {
        url: hide_password(url),
        detail: detail.to_owned(),
    };
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(bad(
            "expected `scheme://...`, like `redis://127.0.0.1:6379/0` or `memory://`",
        ));
    };
    let valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return Err(bad(
            "the scheme before `://` must be a name such as `redis` or `memory`",
        ));
    }
    Ok(scheme)
}

/// Turns a connection failure into the error a person reads.
fn classify(url: &str, e: taskq::Error) -> CliError {
    match e {
        taskq::Error::Config(ConfigError::UnknownScheme { scheme, known, .. }) => {
            CliError::BadUrl {
                url: hide_password(url),
                detail: format!(
                    "no backend handles `{scheme}://` in this build (it knows {known})"
                ),
            }
        }
        taskq::Error::Backend(BackendError::InvalidUrl { url, detail, .. }) => {
            CliError::BadUrl { url, detail }
        }
        taskq::Error::Backend(BackendError::Unavailable { url, source, .. }) => {
            CliError::Unreachable {
                url,
                detail: one_line(&source.to_string()),
            }
        }
        other => other.into(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `url` with any password replaced by `***` (`redis://:***@host/0`).
pub fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(check_shape("redis://h:1/0").unwrap(), "redis");
        assert_eq!(check_shape("memory://").unwrap(), "memory");
        assert!(check_shape("localhost:6379").is_err());
        assert!(check_shape("://x").is_err());
        assert!(check_shape("9p://x").is_err());
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(hide_password("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(hide_password("redis://me:pw@h:1/0"), "redis://me:***@h:1/0");
        assert_eq!(hide_password("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(hide_password("redis://me@h:1/0"), "redis://me@h:1/0");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn memory_connects_and_unknown_schemes_are_malformed() {
        assert!(connect(Some("memory://")).await.is_ok());
        let e = connect(Some("nats://x")).await.unwrap_err();
        assert!(matches!(e, CliError::BadUrl { .. }), "{e}");
        assert!(matches!(connect(None).await, Err(CliError::NoUrl)));
        assert!(matches!(connect(Some("  ")).await, Err(CliError::NoUrl)));
    }
}
