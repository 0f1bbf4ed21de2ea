//! The REST API against a private Redis, with a real worker in this process.

mod api_support;

use std::sync::atomic::Ordering;

use api_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_answers_202_with_location_and_the_result_appears_with_wait() {
    let api = start().await;
    let name = name_of::<add>();
    let r = api
        .post(
            "/api/tasks",
            &api.tokens.operator,
            &json!({ "task": name, "a": 2, "b": 3 }),
        )
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let accepted = json(r, 202).await;
    let id = accepted["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/tasks/{id}"));
    assert_eq!(accepted["state"], "pending");
    assert_eq!(accepted["task"], name);
    assert_eq!(accepted["links"]["self"], location);

    let done = json(
        api.get(&format!("{location}?wait=15s"), &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"], 5);
    assert_eq!(done["done"], true);
    assert!(done["finished_at"].is_string(), "{done}");

    // The per-task endpoint takes the same body without `task`.
    let r = api
        .post(
            &format!("/api/tasks/{}", name_of::<greet>()),
            &api.tokens.operator,
            &json!({ "name": "Ada", "excited": true, "options": { "priority": 9 } }),
        )
        .send()
        .await
        .unwrap();
    let accepted = json(r, 202).await;
    assert_eq!(accepted["queue"], "greetings");
    let done = json(
        api.get(
            &format!("/api/tasks/{}?wait=15", accepted["id"].as_str().unwrap()),
            &api.tokens.viewer,
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(done["result"], "Hello, Ada!", "{done}");
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_fit_lists_every_field_error_and_enqueues_nothing() {
    let api = start_with(Setup {
        no_worker: true,
        ..Setup::default()
    })
    .await;
    let name = name_of::<add>();
    // `a` has the wrong type, `b` is missing, `c` is not a field: three errors at once.
    let r = api
        .post(
            "/api/tasks",
            &api.tokens.operator,
            &json!({ "task": name, "a": "two", "c": 1, "options": { "queue": "holding" } }),
        )
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    let pointers: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert!(pointers.contains(&"/a"), "{p}");
    assert!(pointers.contains(&"/b"), "{p}");
    assert!(pointers.contains(&"/c"), "{p}");
    // Options are checked too, with the arguments, in one answer.
    let r = api
        .post(
            &format!("/api/tasks/{name}"),
            &api.tokens.operator,
            &json!({ "a": 1, "b": "x", "options": { "queue": "holding", "priority": 12, "countdown": "soon" } }),
        )
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    let pointers: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for want in ["/b", "/options/priority", "/options/countdown"] {
        assert!(pointers.contains(&want), "{want} in {p}");
    }
    assert_eq!(api.stats("holding").await.ready, 0);
    assert_eq!(api.stats("holding").await.delayed, 0);

    // Unknown task: 404, nothing enqueued.
    let r = api
        .post(
            "/api/tasks",
            &api.tokens.operator,
            &json!({ "task": "no::such_task", "options": { "queue": "holding" } }),
        )
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let r = api
        .post("/api/tasks/no::such_task", &api.tokens.operator, &json!({}))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    assert_eq!(api.stats("holding").await.ready, 0);

    // The same queue does take a valid body (so the zeros above mean something).
    let r = api
        .post(
            &format!("/api/tasks/{name}"),
            &api.tokens.operator,
            &json!({ "a": 1, "b": 2, "options": { "queue": "holding" } }),
        )
        .send()
        .await
        .unwrap();
    json(r, 202).await;
    assert_eq!(api.stats("holding").await.ready, 1);
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_returns_the_first_task_and_refuses_another_body() {
    let api = start_with(Setup {
        no_worker: true,
        ..Setup::default()
    })
    .await;
    let name = name_of::<add>();
    let body = json!({ "task": name, "a": 1, "b": 2, "options": { "queue": "idem" } });
    let send = |body: serde_json::Value| {
        api.post("/api/tasks", &api.tokens.operator, &body)
            .header("Idempotency-Key", "order-42")
            .send()
    };
    let first = json(send(body.clone()).await.unwrap(), 202).await;
    // The same body with its keys in another order is the same request.
    let reordered = json!({ "options": { "queue": "idem" }, "b": 2, "a": 1, "task": name });
    let again = json(send(reordered).await.unwrap(), 202).await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(api.stats("idem").await.ready, 1, "published once");

    let other = json!({ "task": name, "a": 1, "b": 3, "options": { "queue": "idem" } });
    let p = problem(send(other).await.unwrap(), 422).await;
    assert!(p["detail"].as_str().unwrap().contains("order-42"), "{p}");
    assert_eq!(api.stats("idem").await.ready, 1);
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_status_and_unknown_ids() {
    let api = start().await;
    let name = name_of::<add>();
    let r = api
        .post(
            "/api/tasks",
            &api.tokens.operator,
            &json!({ "task": name, "a": 1, "b": 1, "options": { "countdown": "1h" } }),
        )
        .send()
        .await
        .unwrap();
    let accepted = json(r, 202).await;
    assert_eq!(accepted["state"], "scheduled");
    assert!(accepted["eta"].is_string());
    let path = format!("/api/tasks/{}", accepted["id"].as_str().unwrap());

    let status = json(
        api.get(&path, &api.tokens.viewer).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(status["state"], "scheduled");
    assert_eq!(status["arguments"], json!({ "a": 1, "b": 1 }));

    let del = || {
        api.http
            .delete(api.url(&path))
            .bearer_auth(&api.tokens.operator)
            .send()
    };
    let revoked = json(del().await.unwrap(), 202).await;
    assert_eq!(revoked["outcome"], "removed");
    let status = json(
        api.get(&path, &api.tokens.viewer).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(status["state"], "cancelled");
    assert_eq!(status["error"]["kind"], "cancelled");
    problem(del().await.unwrap(), 409).await;

    let unknown = format!("/api/tasks/{}", taskq::TaskId::new());
    problem(
        api.get(&unknown, &api.tokens.viewer).send().await.unwrap(),
        404,
    )
    .await;
    problem(
        api.http
            .delete(api.url(&unknown))
            .bearer_auth(&api.tokens.operator)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        api.get("/api/tasks/not-an-id", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_starts_by_name_with_checked_arguments() {
    let api = start().await;
    let name = <summed as taskq::canvas::Workflow>::NAME;
    let p = problem(
        api.post(
            &format!("/api/workflows/{name}"),
            &api.tokens.operator,
            &json!({ "n": "four" }),
        )
        .send()
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["pointer"], "/n", "{p}");
    problem(
        api.post("/api/workflows/nope", &api.tokens.operator, &json!({}))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let started = json(
        api.post(
            &format!("/api/workflows/{name}"),
            &api.tokens.operator,
            &json!({ "n": 4 }),
        )
        .send()
        .await
        .unwrap(),
        202,
    )
    .await;
    let done = json(
        api.get(
            &format!("{}?wait=15s", started["links"]["self"].as_str().unwrap()),
            &api.tokens.viewer,
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"], 10);
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_pause_resume_listing_and_purge() {
    let api = start_with(Setup {
        no_worker: true,
        ..Setup::default()
    })
    .await;
    let name = name_of::<add>();
    for i in 0..3 {
        let r = api
            .post(
                "/api/tasks",
                &api.tokens.operator,
                &json!({ "task": name, "a": i, "b": 0, "options": { "queue": "batch" } }),
            )
            .send()
            .await
            .unwrap();
        json(r, 202).await;
    }
    let paused = json(
        api.post("/api/queues/batch/pause", &api.tokens.operator, &json!({}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(paused["paused"], true);
    let list = json(
        api.get("/api/queues", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let batch = list["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "batch")
        .cloned()
        .unwrap();
    assert_eq!(batch["ready"], 3);
    assert_eq!(batch["paused"], true);
    let resumed = json(
        api.post("/api/queues/batch/resume", &api.tokens.operator, &json!({}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(resumed["paused"], false);

    // Paged listing: two, then one, then no cursor.
    let page = json(
        api.get(
            "/api/queues/batch/tasks?state=ready&limit=2",
            &api.tokens.viewer,
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    let cursor = page["next"].as_str().unwrap().to_owned();
    let page2 = json(
        api.http
            .get(api.url("/api/queues/batch/tasks"))
            .query(&[
                ("state", "ready"),
                ("limit", "2"),
                ("cursor", cursor.as_str()),
            ])
            .bearer_auth(&api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1, "{page2}");
    assert!(page2.get("next").is_none(), "{page2}");
    problem(
        api.get("/api/queues/batch/tasks?state=sideways", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;

    // Purge needs admin.
    let purge = |token: &str| {
        api.http
            .delete(api.url("/api/queues/batch"))
            .bearer_auth(token)
            .send()
    };
    problem(purge(&api.tokens.operator).await.unwrap(), 403).await;
    let purged = json(purge(&api.tokens.admin).await.unwrap(), 200).await;
    assert_eq!(purged["purged"], 3);
    assert_eq!(api.stats("batch").await.ready, 0);
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_listed_requeued_by_reason_and_succeeds() {
    FLAKY_OK.store(false, Ordering::SeqCst);
    let api = start().await;
    let name = name_of::<flaky>();
    let accepted = json(
        api.post(
            &format!("/api/tasks/{name}"),
            &api.tokens.operator,
            &json!({ "n": 7 }),
        )
        .send()
        .await
        .unwrap(),
        202,
    )
    .await;
    let path = accepted["links"]["self"].as_str().unwrap().to_owned();
    let failed = json(
        api.get(&format!("{path}?wait=15s"), &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error"]["kind"], "error");

    let dead = json(
        api.get("/api/queues/fragile/dead", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert_eq!(items[0]["reason"], "attempts_exhausted");

    // Requeue needs an operator, and exactly one selector.
    let requeue = |token: &str, body: serde_json::Value| {
        api.post("/api/queues/fragile/dead/requeue", token, &body)
            .send()
    };
    problem(
        requeue(
            &api.tokens.viewer,
            json!({ "reason": "attempts_exhausted" }),
        )
        .await
        .unwrap(),
        403,
    )
    .await;
    problem(requeue(&api.tokens.operator, json!({})).await.unwrap(), 422).await;
    problem(
        requeue(&api.tokens.operator, json!({ "reason": "bored" }))
            .await
            .unwrap(),
        422,
    )
    .await;

    FLAKY_OK.store(true, Ordering::SeqCst);
    let n = json(
        requeue(
            &api.tokens.operator,
            json!({ "reason": "attempts_exhausted" }),
        )
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(n["requeued"], 1);
    let done = json(
        api.get(&format!("{path}?wait=15s"), &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"], 7);
    let workers = json(
        api.get("/api/workers", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(workers["workers"].as_array().unwrap().len(), 1, "{workers}");
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversized_and_mistyped_bodies_are_problems() {
    let api = start_with(Setup {
        no_worker: true,
        body_limit: Some(1024),
        ..Setup::default()
    })
    .await;
    let send = |body: &'static str, ctype: &'static str| {
        api.http
            .post(api.url("/api/tasks"))
            .bearer_auth(&api.tokens.operator)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let p = problem(send("{\"task\": ", "application/json").await.unwrap(), 400).await;
    assert!(
        p["detail"].as_str().unwrap().contains("not valid JSON"),
        "{p}"
    );
    let p = problem(send("{}", "text/plain").await.unwrap(), 415).await;
    assert!(
        p["detail"].as_str().unwrap().contains("application/json"),
        "{p}"
    );
    problem(send("[1, 2]", "application/json").await.unwrap(), 422).await;
    problem(send("{\"a\": 1}", "application/json").await.unwrap(), 422).await;

    let big = format!("{{\"task\": \"x\", \"pad\": \"{}\"}}", "x".repeat(4096));
    let r = api
        .http
        .post(api.url("/api/tasks"))
        .bearer_auth(&api.tokens.operator)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let p = problem(r, 413).await;
    assert!(p["detail"].as_str().unwrap().contains("1024"), "{p}");

    problem(
        api.get("/nowhere", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        api.http
            .put(api.url("/api/queues"))
            .bearer_auth(&api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        405,
    )
    .await;
    let health = json(api.http.get(api.url("/healthz")).send().await.unwrap(), 200).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["backend"], "redis");
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_task_accepts_unknown_names_and_still_checks_known_ones() {
    let api = start_with(Setup {
        no_worker: true,
        any_task: true,
        ..Setup::default()
    })
    .await;
    let r = api
        .post(
            "/api/tasks",
            &api.tokens.operator,
            &json!({ "task": "billing.charge", "amount": [1, 2], "options": { "queue": "foreign", "priority": 8 } }),
        )
        .send()
        .await
        .unwrap();
    let accepted = json(r, 202).await;
    assert_eq!(accepted["queue"], "foreign");
    let page = json(
        api.get("/api/queues/foreign/tasks", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let env = &page["items"][0]["envelope"];
    assert_eq!(env["task"], "billing.charge", "{page}");
    assert_eq!(env["args"], json!({ "amount": [1, 2] }));
    assert_eq!(env["priority"], 8);
    // A registered task keeps its schema.
    let r = api
        .post(
            &format!("/api/tasks/{}", name_of::<add>()),
            &api.tokens.operator,
            &json!({ "a": "x" }),
        )
        .send()
        .await
        .unwrap();
    problem(r, 422).await;
    let doc = json(
        api.get("/openapi.json", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(doc["components"]["schemas"]["taskq.SubmitBody"]["anyOf"].is_array());
    api.shutdown().await;
}
