//! `/login`: takes an API token and keeps it in the `taskq_token` cookie (`HttpOnly`: no
//! script reads it; `SameSite=Strict`: no other site's page sends it), so the pages, their
//! SSE stream and their actions are authenticated like API calls. `/logout` clears it.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use crate::auth::TOKEN_COOKIE;
use crate::state::AppState;

use super::layout::{render as frame, Frame, Nav};

/// Where to go after logging in.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Next {
    next: String,
}

/// The login form's fields.
#[derive(Deserialize)]
pub(crate) struct Login {
    token: String,
    #[serde(default)]
    next: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Login").field("next", &self.next).finish()
    }
}

/// A local path to go back to; anything else (another site, `//host`) goes to `/`.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn render(next: &str, error: Option<&str>) -> String {
    let body = html! {
        form.login method="post" action="/login" {
            p { "Paste an API token (" code { "taskq token create --role viewer" } " makes one). "
                "It is kept in an HttpOnly cookie for this site only." }
            @if let Some(e) = error { p.error #login-error { (e) } }
            input type="hidden" name="next" value=(safe_next(next));
            label { "Token " input #token type="password" name="token" autocomplete="off" required autofocus; }
            button type="submit" #login-submit { "Log in" }
        }
    };
    frame(
        Frame {
            title: "Log in",
            nav: Nav::Login,
            who: None,
            stream: None,
        },
        body,
    )
    .into_string()
}

/// `GET /login`.
pub(crate) async fn form_page(Query(next): Query<Next>) -> Html<String> {
    Html(render(&next.next, None))
}

/// `POST /login`: checks the token, sets the cookie, goes back.
pub(crate) async fn submit(State(app): State<Arc<AppState>>, Form(login): Form<Login>) -> Response {
    let token = login.token.trim();
    if app.auth.tokens.verify(token).is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            Html(render(
                &login.next,
                Some("That token is not valid (unknown, revoked or mistyped)."),
            )),
        )
            .into_response();
    }
    // The secret has no characters that need quoting in a cookie (the token format is
    // `tq_<id>_<hex>`); refuse anything else rather than write a broken header.
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return (
            StatusCode::BAD_REQUEST,
            Html(render(
                &login.next,
                Some("That token has characters a token never has."),
            )),
        )
            .into_response();
    }
    let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    ([(SET_COOKIE, cookie)], Redirect::to(safe_next(&login.next))).into_response()
}

/// `POST /logout`: clears the cookie.
pub(crate) async fn logout() -> Response {
    let cookie = format!("{TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_gone_back_to() {
        assert_eq!(safe_next("/tasks?queue=a"), "/tasks?queue=a");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
