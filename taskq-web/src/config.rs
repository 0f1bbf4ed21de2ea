//! [`WebConfig`]: how a router is built — client, tokens, anonymous access, limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::auth::{AuthConfig, Role, UnknownRole, ANONYMOUS_ENV};
use crate::catalog::Catalog;
use crate::state::{AppState, Settings};
use crate::token::{TokenError, TokenSet};

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default cap on `GET /api/tasks/{id}?wait=`: 60 seconds.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);
/// Environment variable: the address [`serve_from_env`](crate::serve_from_env) listens on.
pub const ADDR_ENV: &str = "TASKQ_WEB_ADDR";
/// The address served when `TASKQ_WEB_ADDR` is unset.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Why a router could not be built or served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// A token line or file is not valid.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// `TASKQ_WEB_ANONYMOUS` is not a role.
    #[error("{ANONYMOUS_ENV}: {0}")]
    Anonymous(#[from] UnknownRole),
    /// `TASKQ_WEB_ADDR` is not an address.
    #[error("{ADDR_ENV}=`{value}` is not a socket address such as 127.0.0.1:8080")]
    Addr {
        /// The value.
        value: String,
    },
    /// The registry is not valid (two tasks share a name), or the backend cannot be reached.
    #[error(transparent)]
    Taskq(#[from] taskq::Error),
    /// The address cannot be listened on, or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How to build a router: the backend's client, tokens, anonymous access, limits.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), taskq_web::WebError> {
/// let (secret, line) = taskq_web::token::create(taskq_web::Role::Operator)?;
/// let router = taskq_web::WebConfig::new()
///     .client(taskq::Client::memory())
///     .token_lines(&line)?
///     .anonymous(Some(taskq_web::Role::Viewer))
///     .body_limit(64 * 1024)
///     .router()
///     .await?;
/// # let _ = (router, secret);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct WebConfig {
    client: Option<taskq::Client>,
    tokens: TokenSet,
    anonymous: Option<Role>,
    registry: Option<taskq::Registry>,
    settings: Settings,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl WebConfig {
    /// No tokens (every request is answered `401`), no anonymous access, the process-wide
    /// client, every linked task, a 1 MiB body limit, waits capped at 60 s.
    pub fn new() -> Self {
        Self {
            client: None,
            tokens: TokenSet::new(),
            anonymous: None,
            registry: None,
            settings: Settings {
                body_limit: DEFAULT_BODY_LIMIT,
                max_wait: DEFAULT_MAX_WAIT,
                any_task: false,
            },
        }
    }

    /// As [`WebConfig::new`], with the tokens of `TASKQ_WEB_TOKENS` / `TASKQ_WEB_TOKENS_FILE`
    /// and the anonymous role of `TASKQ_WEB_ANONYMOUS` (`viewer`, or unset for none).
    ///
    /// # Errors
    /// [`WebError::Token`], [`WebError::Anonymous`].
    pub fn from_env() -> Result<Self, WebError> {
        let mut config = Self::new();
        config.tokens = TokenSet::from_env()?;
        if let Ok(role) = std::env::var(ANONYMOUS_ENV) {
            let role = role.trim();
            if !role.is_empty() && !role.eq_ignore_ascii_case("none") {
                config.anonymous = Some(role.parse()?);
            }
        }
        Ok(config)
    }

    /// Uses `client`'s backend (by default, [`taskq::Client::global`]).
    pub fn client(mut self, client: taskq::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Uses these tokens, replacing any configured.
    pub fn tokens(mut self, tokens: TokenSet) -> Self {
        self.tokens = tokens;
        self
    }

    /// Adds token lines (`<id> <role> <salt-hex> <sha256-hex>`, separated by newlines or `;`).
    ///
    /// # Errors
    /// [`WebError::Token`] for a line that is not valid.
    pub fn token_lines(mut self, lines: &str) -> Result<Self, WebError> {
        self.tokens.add_lines(lines)?;
        Ok(self)
    }

    /// Lets requests without a token act as `role` (`None`, the default, answers them `401`).
    /// Give at most [`Role::Viewer`] unless the server is reachable only by trusted clients.
    pub fn anonymous(mut self, role: Option<Role>) -> Self {
        self.anonymous = role;
        self
    }

    /// The largest request body accepted, in bytes (1 MiB by default); larger ones are
    /// answered `413`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.settings.body_limit = bytes;
        self
    }

    /// The cap on `GET /api/tasks/{id}?wait=` (60 s by default).
    pub fn max_wait(mut self, max: Duration) -> Self {
        self.settings.max_wait = max;
        self
    }

    /// Serves these tasks instead of every task linked into the binary.
    pub fn registry(mut self, registry: taskq::Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Accepts tasks that are not registered, with any JSON object as arguments, sent to
    /// the queue in `options.queue` (or `default`). For a server that has no compile-time
    /// knowledge of the tasks, such as the CLI's `taskq web`; registered tasks are still
    /// checked against their schemas.
    pub fn any_task(mut self, on: bool) -> Self {
        self.settings.any_task = on;
        self
    }

    /// Builds the router, with the configured client or else the process-wide one.
    ///
    /// # Errors
    /// [`WebError::Taskq`] if the process-wide client cannot be made, or two linked tasks
    /// share a name.
    pub async fn router(self) -> Result<Router, WebError> {
        let client = match &self.client {
            Some(c) => c.clone(),
            None => taskq::Client::global().await?,
        };
        self.router_on(client)
    }

    /// Builds the router on `client`.
    ///
    /// # Errors
    /// [`WebError::Taskq`] if two linked tasks share a name.
    pub fn router_on(self, client: taskq::Client) -> Result<Router, WebError> {
        let registry = match self.registry {
            Some(r) => r,
            None => taskq::Registry::global()
                .map_err(taskq::Error::from)?
                .clone(),
        };
        let catalog = Catalog::new(&registry);
        let document = crate::openapi::document(
            &catalog,
            self.settings.any_task,
            self.settings.max_wait.as_secs(),
        );
        let openapi = serde_json::to_vec(&document).unwrap_or_default().into();
        let metrics = match taskq::telemetry::install_prometheus() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "GET /metrics is off");
                None
            }
        };
        let state = AppState {
            client,
            auth: AuthConfig {
                tokens: self.tokens,
                anonymous: self.anonymous,
            },
            catalog,
            settings: self.settings,
            openapi,
            metrics,
        };
        Ok(crate::app::build(Arc::new(state)))
    }
}
