//! Tokens and roles: 401 without a valid token, 403 below the role, the cookie, anonymous
//! access only when configured.

mod api_support;

use api_support::*;
use reqwest::Method;
use serde_json::{json, Value};
use taskq_web::Role;

struct Case {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    needs: Role,
}

fn cases() -> Vec<Case> {
    let add = name_of::<add>();
    vec![
        Case {
            method: Method::GET,
            path: "/api/queues",
            body: None,
            needs: Role::Viewer,
        },
        Case {
            method: Method::GET,
            path: "/api/workers",
            body: None,
            needs: Role::Viewer,
        },
        Case {
            method: Method::GET,
            path: "/openapi.json",
            body: None,
            needs: Role::Viewer,
        },
        Case {
            method: Method::GET,
            path: "/metrics",
            body: None,
            needs: Role::Viewer,
        },
        Case {
            method: Method::POST,
            path: "/api/tasks",
            body: Some(json!({ "task": add, "a": 1, "b": 2, "options": { "queue": "auth" } })),
            needs: Role::Operator,
        },
        Case {
            method: Method::POST,
            path: "/api/queues/auth/pause",
            body: None,
            needs: Role::Operator,
        },
        Case {
            method: Method::POST,
            path: "/api/queues/auth/dead/requeue",
            body: Some(json!({ "all": true })),
            needs: Role::Operator,
        },
        Case {
            method: Method::DELETE,
            path: "/api/queues/auth/dead",
            body: None,
            needs: Role::Admin,
        },
        Case {
            method: Method::DELETE,
            path: "/api/queues/auth",
            body: None,
            needs: Role::Admin,
        },
    ]
}

async fn send(api: &Api, case: &Case, auth: Option<(&str, &str)>) -> reqwest::Response {
    let mut req = api.http.request(case.method.clone(), api.url(case.path));
    if let Some(body) = &case.body {
        req = req.json(body);
    }
    if let Some((header, value)) = auth {
        req = req.header(header, value);
    }
    req.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_what_it_may_and_403_for_the_rest() {
    let api = start_with(Setup {
        no_worker: true,
        ..Setup::default()
    })
    .await;
    let roles = [
        (Role::Viewer, api.tokens.viewer.clone()),
        (Role::Operator, api.tokens.operator.clone()),
        (Role::Admin, api.tokens.admin.clone()),
    ];
    // A forged token: a real id with another secret.
    let forged = format!("{}0", &api.tokens.admin[..api.tokens.admin.len() - 1]);
    for case in cases() {
        let r = send(&api, &case, None).await;
        assert_eq!(
            r.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some(r#"Bearer realm="taskq""#),
            "{} {}",
            case.method,
            case.path
        );
        problem(r, 401).await;
        let bearer = format!("Bearer {forged}");
        problem(
            send(&api, &case, Some(("authorization", &bearer))).await,
            401,
        )
        .await;
        for (role, token) in &roles {
            let bearer = format!("Bearer {token}");
            let r = send(&api, &case, Some(("authorization", &bearer))).await;
            let status = r.status().as_u16();
            if *role >= case.needs {
                assert!(
                    !matches!(status, 401 | 403),
                    "{role} on {} {}: {status} {}",
                    case.method,
                    case.path,
                    r.text().await.unwrap_or_default()
                );
            } else {
                let p = problem(r, 403).await;
                assert!(
                    p["detail"].as_str().unwrap().contains(case.needs.as_str()),
                    "{p}"
                );
            }
        }
        // The dashboard's cookie carries the same token.
        let cookie = format!("theme=dark; taskq_token={}", api.tokens.admin);
        let r = send(&api, &case, Some(("cookie", &cookie))).await;
        assert!(
            !matches!(r.status().as_u16(), 401 | 403),
            "cookie on {}",
            case.path
        );
    }
    // Health needs no token.
    assert_eq!(
        api.http
            .get(api.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_reads_only_when_configured() {
    let api = start_with(Setup {
        no_worker: true,
        anonymous: Some(Role::Viewer),
        ..Setup::default()
    })
    .await;
    for case in cases() {
        let r = send(&api, &case, None).await;
        let status = r.status().as_u16();
        if case.needs == Role::Viewer {
            assert!(!matches!(status, 401 | 403), "{}: {status}", case.path);
        } else {
            problem(r, 403).await;
        }
    }
    // A token that is presented must still be valid.
    let r = api
        .http
        .get(api.url("/api/queues"))
        .bearer_auth("tq_deadbeef_nope")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    api.shutdown().await;
}
