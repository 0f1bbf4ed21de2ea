//! `/openapi.json`, `/docs` and `/metrics`.

mod api_support;

use std::collections::BTreeSet;

use api_support::*;
use serde_json::{json, Value};

fn walk<'a>(v: &'a Value, found: &mut Vec<&'a str>, key: &str) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                if k == key {
                    found.push("");
                }
                walk(v, found, key);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| walk(v, found, key)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_with_one_component_per_task() {
    let api = start_with(Setup {
        no_worker: true,
        ..Setup::default()
    })
    .await;
    let doc = json(
        api.get("/openapi.json", &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for key in schemas.keys() {
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "component key {key}"
        );
    }
    let registry = taskq::Registry::global().unwrap();
    let names: Vec<&str> = registry.entries().map(|e| e.name).collect();
    assert!(names.len() >= 5);
    let variants = schemas
        .keys()
        .filter(|k| k.starts_with("task.") && !k.ends_with(".body") && !k.ends_with(".output"))
        .count();
    assert_eq!(variants, names.len(), "one variant per task");

    // `add`'s variant: one merged object, never allOf.
    let add = name_of::<add>();
    let key = format!("task.{}", add.replace("::", "."));
    let v = &schemas[&key];
    assert_eq!(v["type"], "object");
    assert_eq!(v["properties"]["task"]["const"], add);
    assert_eq!(v["properties"]["a"]["type"], "integer");
    assert_eq!(
        v["properties"]["options"]["$ref"],
        "#/components/schemas/taskq.SubmitOptions"
    );
    assert_eq!(v["additionalProperties"], false);
    assert_eq!(v["description"], "Adds two numbers.");
    let required: BTreeSet<&str> = v["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["task", "a", "b"]));
    let mut all_of = Vec::new();
    for k in schemas.keys().filter(|k| k.starts_with("task.")) {
        walk(&schemas[k], &mut all_of, "allOf");
    }
    assert!(all_of.is_empty(), "no allOf in the task schemas");
    assert_eq!(schemas[&format!("{key}.output")]["type"], "integer");
    // `greet` has an optional argument.
    let greet = &schemas[&format!("task.{}", name_of::<greet>().replace("::", "."))];
    let required: Vec<&str> = greet["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(!required.contains(&"excited"), "{greet}");

    // The union with its discriminator; a per-task operation for each.
    let union = &schemas["taskq.SubmitBody"];
    assert_eq!(union["oneOf"].as_array().unwrap().len(), names.len());
    assert_eq!(union["discriminator"]["propertyName"], "task");
    assert_eq!(
        union["discriminator"]["mapping"][add],
        format!("#/components/schemas/{key}")
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut ids = BTreeSet::new();
    for item in paths.values() {
        for op in item.as_object().unwrap().values() {
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_owned()),
                "unique operationId"
            );
        }
    }
    for name in &names {
        let op = &paths[&format!("/api/tasks/{name}")]["post"];
        assert!(op["operationId"].as_str().unwrap().starts_with("submit_"));
    }
    assert!(paths.contains_key("/api/tasks/{id}"));
    let workflow = <summed as taskq::canvas::Workflow>::NAME;
    assert!(paths.contains_key(&format!("/api/workflows/{workflow}")));

    // The docs page works offline: its script is served here.
    let page = api.http.get(api.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("<rapi-doc") && html.contains("/docs/rapidoc-min.js"));
    let script = api
        .http
        .get(api.url("/docs/rapidoc-min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.bytes().await.unwrap().len() > 100_000);
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text() {
    let api = start().await;
    let r = api
        .post(
            "/api/tasks",
            &api.tokens.operator,
            &json!({ "task": name_of::<add>(), "a": 1, "b": 1 }),
        )
        .send()
        .await
        .unwrap();
    let id = json(r, 202).await["id"].as_str().unwrap().to_owned();
    json(
        api.get(&format!("/api/tasks/{id}?wait=15s"), &api.tokens.viewer)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let r = api
        .get("/metrics", &api.tokens.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    let mut families = BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.insert(rest.split_whitespace().next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample line: {line}"));
        assert!(value.parse::<f64>().is_ok(), "value of {line}");
        let name = series.split('{').next().unwrap();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{line}"
        );
    }
    for family in ["taskq_build_info", "taskq_tasks_submitted_total"] {
        assert!(families.contains(family), "{family} in {families:?}");
    }
    api.shutdown().await;
}
