//! The codec against messages and results captured from real Celery (tests/fixtures/).

use serde_json::{json, Value};
use taskq::{FailureKind, Outcome, Payload, TaskState};
use taskq_celery::meta;
use taskq_celery::protocol::{self, Message};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn message(name: &str) -> Message {
    Message::parse(fixture(name).trim()).expect("a Celery message")
}

#[test]
fn positional_call_decodes() {
    let m = message("positional.json");
    assert_eq!(m.headers.task, "tasks.add");
    assert_eq!(m.headers.retries, 0);
    assert_eq!(m.headers.root_id.as_deref(), Some(m.headers.id.as_str()));
    assert_eq!(m.properties.delivery_info.routing_key, "celery");
    assert_eq!(m.properties.body_encoding.as_deref(), Some("base64"));
    assert!(m.properties.delivery_tag.is_some());
    let body = m.body().expect("body");
    assert_eq!(body.args, vec![json!(2), json!(3)]);
    assert!(body.kwargs.is_empty());
    assert_eq!(body.embed.chain, None);
    let mapped =
        protocol::map_args("tasks.add", &["a", "b"], body.args, body.kwargs).expect("fits");
    assert_eq!(Value::Object(mapped), json!({"a": 2, "b": 3}));
}

#[test]
fn keyword_arguments_eta_expiry_and_priority_decode() {
    let m = message("kwargs_countdown_priority.json");
    assert_eq!(m.properties.priority, Some(7));
    // kombu put it on the list of step 6.
    assert_eq!(protocol::list_key("celery", 7), "celery\x06\x166");
    let eta = m.headers.eta.as_deref().expect("eta");
    let expires = m.headers.expires.as_deref().expect("expires");
    assert!(eta.ends_with("+00:00"), "{eta}");
    assert!(expires > eta);
    let body = m.body().expect("body");
    let mapped =
        protocol::map_args("tasks.add", &["a", "b"], body.args, body.kwargs).expect("fits");
    assert_eq!(Value::Object(mapped), json!({"a": 2, "b": 4}));
}

#[test]
fn chains_carry_the_rest_last_step_first() {
    let body = message("chain.json").body().expect("body");
    let chain = body.embed.chain.expect("a chain");
    assert_eq!(chain.len(), 2);
    // The next step is the last element; the immutable `.si()` comes last in the chain.
    assert_eq!(chain[1]["task"], "tasks.mul");
    assert_eq!(chain[1]["immutable"], false);
    assert_eq!(chain[0]["task"], "tasks.add");
    assert_eq!(chain[0]["immutable"], true);
    assert!(chain[1]["options"]["task_id"].is_string());
}

#[test]
fn messages_we_build_read_back_like_celerys() {
    let captured = message("positional.json");
    let mut env = taskq::Envelope::new(
        "tasks.add",
        "celery",
        Payload::encode(&json!({"a": 2, "b": 3})).expect("json"),
    );
    env.priority = 9;
    let ours = protocol::from_envelope(&env, "celery").expect("builds");
    let text = ours.to_json().expect("serializes");
    let back = Message::parse(&text).expect("parses");
    assert_eq!(back, ours);
    // Same header and property keys as Celery's own.
    let keys = |v: &Value, part: &str| -> Vec<String> {
        let mut k: Vec<String> = v[part]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    let theirs: Value = serde_json::from_str(fixture("positional.json").trim()).expect("json");
    let mine: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(keys(&mine, "headers"), keys(&theirs, "headers"));
    assert_eq!(keys(&mine, "properties"), keys(&theirs, "properties"));
    assert_eq!(back.properties.priority, Some(0));
    let body = back.body().expect("body");
    assert!(body.args.is_empty());
    assert_eq!(Value::Object(body.kwargs), json!({"a": 2, "b": 3}));
    assert_eq!(captured.content_type, back.content_type);
}

#[test]
fn celery_results_decode() {
    let failed = meta::parse(fixture("result_failure.json").trim()).expect("meta");
    assert_eq!(failed.state(), TaskState::Failed);
    match failed.outcome() {
        Some(Outcome::Failure(f)) => {
            assert_eq!(f.kind, FailureKind::Error);
            assert_eq!(f.message, "ValueError: boom");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let step = meta::parse(fixture("result_chain_step.json").trim()).expect("meta");
    assert_eq!(
        step.outcome(),
        Some(Outcome::Success(Payload::encode(&30).expect("json")))
    );
}

#[test]
fn task_parameters_come_from_the_struct_in_order() {
    #[taskq::task(name = "codec.params")]
    async fn params(zeta: i64, alpha: String, mid: Vec<u8>) -> usize {
        let _ = (zeta, alpha);
        mid.len()
    }
    let entry = taskq::Registry::global()
        .expect("registry")
        .get("codec.params")
        .expect("registered");
    assert_eq!((entry.params)(), ["zeta", "alpha", "mid"]);
}
