//! The `celery+redis://` URL and the settings it carries.

use std::time::Duration;

use taskq::BackendError;

use crate::BACKEND;

/// How the backend talks to Celery's keys: kombu's and Celery's defaults unless the URL says
/// otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The plain `redis://` URL of the server (broker and result backend on one server).
    pub redis_url: String,
    /// kombu's `visibility_timeout`: a message taken but not acknowledged for this long goes
    /// back to its queue. Default one hour, as kombu's. Python workers sharing the queue must
    /// use the same value (`broker_transport_options = {"visibility_timeout": ...}`).
    pub visibility_timeout: Duration,
    /// Celery's `task_default_queue` (`celery`): the kombu queue behind taskq's queue
    /// `default`.
    pub default_queue: String,
    /// Celery's `result_expires`: how long results are kept (one day).
    pub result_expires: Duration,
    /// How often a worker looks for unacknowledged messages past the visibility timeout.
    pub restore_interval: Duration,
}

impl Config {
    /// Parses `celery+redis://[[user]:password@]host[:port][/db][?visibility_timeout=3600&
    /// default_queue=celery&result_expires=86400&restore_interval=10]` (durations in seconds,
    /// fractions allowed).
    ///
    /// # Errors
    /// [`BackendError::InvalidUrl`] for another scheme or a bad parameter.
    pub fn from_url(url: &str) -> Result<Self, BackendError> {
        let bad = |detail: String| BackendError::InvalidUrl {
            backend: BACKEND,
            url: redact(url),
            detail,
        };
        let rest = url
            .strip_prefix("celery+redis://")
            .ok_or_else(|| bad("expected `celery+redis://host:port/db`".into()))?;
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut config = Config {
            redis_url: format!("redis://{base}"),
            visibility_timeout: Duration::from_secs(3600),
            default_queue: "celery".into(),
            result_expires: Duration::from_secs(86_400),
            restore_interval: Duration::ZERO,
        };
        let mut interval = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let secs = || -> Result<Duration, BackendError> {
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| bad(format!("`{k}` must be a positive number of seconds")))
            };
            match k {
                "visibility_timeout" => config.visibility_timeout = secs()?,
                "result_expires" => config.result_expires = secs()?,
                "restore_interval" => interval = Some(secs()?),
                "default_queue" if !v.is_empty() => config.default_queue = v.to_owned(),
                other => {
                    return Err(bad(format!(
                        "unknown parameter `{other}`; known: visibility_timeout, \
                         default_queue, result_expires, restore_interval"
                    )))
                }
            }
        }
        config.restore_interval = interval.unwrap_or_else(|| {
            (config.visibility_timeout / 4)
                .clamp(Duration::from_millis(200), Duration::from_secs(10))
        });
        Ok(config)
    }

    /// The kombu queue behind a taskq queue name.
    pub fn kombu_queue<'a>(&'a self, queue: &'a str) -> &'a str {
        if queue == taskq::DEFAULT_QUEUE {
            &self.default_queue
        } else {
            queue
        }
    }

    /// The taskq queue name of a kombu queue.
    pub fn taskq_queue<'a>(&self, kombu: &'a str) -> &'a str {
        if kombu == self.default_queue {
            taskq::DEFAULT_QUEUE
        } else {
            kombu
        }
    }
}

/// `url` with any password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let c = Config::from_url("celery+redis://127.0.0.1:6379/0?visibility_timeout=2")
            .expect("parses");
        assert_eq!(c.redis_url, "redis://127.0.0.1:6379/0");
        assert_eq!(c.visibility_timeout, Duration::from_secs(2));
        assert_eq!(c.restore_interval, Duration::from_millis(500));
        assert_eq!(c.kombu_queue("default"), "celery");
        assert_eq!(c.taskq_queue("celery"), "default");
        assert!(Config::from_url("redis://x").is_err());
        assert!(Config::from_url("celery+redis://x?nope=1").is_err());
        assert_eq!(redact("celery+redis://:pw@h/0"), "celery+redis://:***@h/0");
    }
}
