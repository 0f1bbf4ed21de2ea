//! Who is asking, and what they may do: roles, the [`Principal`] of a request, and the
//! extractors that require a role.
//!
//! A request carries a token as `Authorization: Bearer <secret>` or, for the browser (whose
//! `EventSource` cannot send headers), in the cookie `taskq_token` (set `HttpOnly`,
//! `SameSite=Strict` by the dashboard's login page). Without a valid token a request is
//! anonymous: allowed only when the server is configured with an anonymous role
//! (`TASKQ_WEB_ANONYMOUS=viewer`), answered `401` otherwise. A valid token whose role is too
//! low is answered `403`.
//!
//! In a handler of this crate's router, ask for the role it needs; the extractor holds the
//! [`Principal`], whose role can also decide what a page shows:
//!
//! ```
//! use taskq_web::{ApiError, RequireOperator, RequireViewer, Role};
//!
//! async fn requeue(RequireOperator(who): RequireOperator) -> Result<String, ApiError> {
//!     Ok(format!("requeued by token {:?}", who.token_id))
//! }
//!
//! async fn page(RequireViewer(who): RequireViewer) -> String {
//!     if who.can(Role::Operator) { "<button>Requeue</button>".into() } else { String::new() }
//! }
//! # let _ = (requeue, page);
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;
use crate::state::AppState;

/// The cookie the dashboard keeps the token in.
pub const TOKEN_COOKIE: &str = "taskq_token";
/// Environment variable: the role of requests without a token (`viewer`); unset refuses them.
pub const ANONYMOUS_ENV: &str = "TASKQ_WEB_ANONYMOUS";

/// What a token may do. Each role may do everything the ones below it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read: tasks, queues, workers, events, metrics.
    Viewer,
    /// Also submit, revoke, requeue dead letters, pause and resume queues.
    Operator,
    /// Also purge queues and dead letters.
    Admin,
}

impl Role {
    /// Its name: `viewer`, `operator`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `viewer`, `operator` or `admin`.
#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}`: expected `viewer`, `operator` or `admin`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// ```
    /// use taskq_web::Role;
    /// assert_eq!("Operator".parse::<Role>().unwrap(), Role::Operator);
    /// assert!("root".parse::<Role>().is_err());
    /// assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

/// Who made a request: the role it acts with, and the id of its token (`None` when anonymous).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// What it may do.
    pub role: Role,
    /// The id of the token it presented (never the secret); `None` for anonymous access.
    pub token_id: Option<String>,
}

impl Principal {
    /// Whether it may do what `role` may.
    ///
    /// ```
    /// use taskq_web::{Principal, Role};
    /// let p = Principal { role: Role::Operator, token_id: None };
    /// assert!(p.can(Role::Viewer) && p.can(Role::Operator) && !p.can(Role::Admin));
    /// ```
    pub fn can(&self, role: Role) -> bool {
        self.role >= role
    }
}

/// How requests are authenticated: the configured tokens and the anonymous role.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuthConfig {
    pub(crate) tokens: crate::token::TokenSet,
    pub(crate) anonymous: Option<Role>,
}

impl AuthConfig {
    /// Who sent `parts`: `Ok(None)` when it carries no token, `Err` when the token it carries
    /// is not valid.
    fn identify(&self, parts: &Parts) -> Result<Option<Principal>, ApiError> {
        let Some(secret) = presented_token(parts) else {
            return Ok(None);
        };
        match self.tokens.verify(secret) {
            Some(p) => Ok(Some(p)),
            None => Err(ApiError::Unauthorized {
                reason: "the token is not valid (unknown, revoked or mistyped)",
            }),
        }
    }

    /// The principal of `parts` if it may do what `role` may: `401` or `403` otherwise.
    pub(crate) fn require(&self, parts: &Parts, role: Role) -> Result<Principal, ApiError> {
        let p = self.principal(parts)?;
        if p.can(role) {
            Ok(p)
        } else {
            Err(ApiError::Forbidden {
                needed: role,
                have: p.role,
            })
        }
    }

    /// Who sent `parts`, with the anonymous role standing in for a missing token.
    pub(crate) fn principal(&self, parts: &Parts) -> Result<Principal, ApiError> {
        match self.identify(parts)? {
            Some(p) => Ok(p),
            None => match self.anonymous {
                Some(role) => Ok(Principal {
                    role,
                    token_id: None,
                }),
                None => Err(ApiError::Unauthorized {
                    reason: "no token: send `Authorization: Bearer <token>` (or log in on the dashboard)",
                }),
            },
        }
    }
}

/// The token of a request: the bearer token, else the `taskq_token` cookie.
fn presented_token(parts: &Parts) -> Option<&str> {
    if let Some(value) = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
            .filter(|t| !t.is_empty());
    }
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|t| !t.is_empty())
}

macro_rules! require {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        ///
        /// It answers `401` without a valid token (unless anonymous access is configured with
        /// a role high enough) and `403` when the principal's role is too low.
        #[derive(Clone, Debug)]
        pub struct $name(pub Principal);

        impl FromRequestParts<Arc<AppState>> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &Arc<AppState>,
            ) -> Result<Self, Self::Rejection> {
                state.auth.require(parts, $role).map($name)
            }
        }
    };
}

require!(
    /// An extractor requiring at least [`Role::Viewer`]; it holds the [`Principal`].
    RequireViewer,
    Role::Viewer
);
require!(
    /// An extractor requiring at least [`Role::Operator`]; it holds the [`Principal`].
    RequireOperator,
    Role::Operator
);
require!(
    /// An extractor requiring [`Role::Admin`]; it holds the [`Principal`].
    RequireAdmin,
    Role::Admin
);

/// An extractor that never rejects: the principal if the request has a valid token (or
/// anonymous access is configured), `None` otherwise. For pages that show a login form
/// instead of an error.
#[derive(Debug)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<Arc<AppState>> for MaybePrincipal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybePrincipal(state.auth.principal(parts).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(header: (&str, &str)) -> Parts {
        let (parts, ()) = Request::builder()
            .header(header.0, header.1)
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    #[test]
    fn bearer_and_cookie() {
        let p = parts(("authorization", "Bearer  tq_a_b "));
        assert_eq!(presented_token(&p), Some("tq_a_b"));
        let p = parts(("cookie", "x=1; taskq_token=tq_c_d; y=2"));
        assert_eq!(presented_token(&p), Some("tq_c_d"));
        let p = parts(("authorization", "Basic abc"));
        assert_eq!(presented_token(&p), None);
    }
}
