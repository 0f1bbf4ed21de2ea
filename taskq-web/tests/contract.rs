//! The API against its own OpenAPI document: `schemathesis` (from PyPI, in the workspace's
//! `.venv`, installed by `scripts/test.sh`) generates requests from `/openapi.json` — valid
//! bodies for every task, invalid ones, edge-case ids and query strings — against a server on a
//! private Redis with a worker running, and fails on any 5xx answer or any answer that breaks
//! the document (status, content type, body schema).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use taskq::schema::schemars::JsonSchema;
use taskq_redis::testing::RedisServer;

/// A shipping address, as a task argument with nested structure.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "taskq::schema::schemars")]
struct Address {
    /// The street and number.
    street: String,
    /// The postal code.
    zip: String,
}

/// Adds two numbers.
#[taskq::task(name = "contract.add", queue = "contract")]
async fn add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

/// Ships a parcel; fails for an empty street.
#[taskq::task(name = "contract.ship", queue = "contract")]
async fn ship(to: Address, weight_grams: u32, express: Option<bool>) -> Result<String, String> {
    if to.street.is_empty() {
        return Err("no street".into());
    }
    Ok(format!(
        "{} {}g {}",
        to.zip,
        weight_grams,
        express.unwrap_or(false)
    ))
}

/// Sleeps a little, so that some tasks are running when they are asked about.
#[taskq::task(name = "contract.nap", queue = "contract")]
async fn nap(ms: u16) {
    tokio::time::sleep(Duration::from_millis(u64::from(ms.min(200)))).await;
}

fn schemathesis() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join(".venv/bin/schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: run ./scripts/test.sh, which installs taskq-web/tests/requirements.txt \
         into .venv (or: python3 -m venv .venv && .venv/bin/pip install -r \
         taskq-web/tests/requirements.txt)",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_schema() {
    let bin = schemathesis();
    let redis = RedisServer::start();
    let client = taskq::Client::connect(&redis.url())
        .await
        .expect("connect to the private redis");
    let worker = taskq::Worker::builder()
        .client(client.clone())
        .queues(["contract", "default"])
        .spawn()
        .expect("worker");

    let (secret, line) = taskq_web::token::create(taskq_web::Role::Admin).expect("token");
    let router = taskq_web::WebConfig::new()
        .token_lines(&line)
        .expect("token line")
        .max_wait(Duration::from_secs(1))
        .router_on(client.clone())
        .expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let base = format!("http://{addr}");
    let mut out;
    let mut runs = 0;
    loop {
        runs += 1;
        let (bin, base, secret) = (bin.clone(), base.clone(), secret.clone());
        out = tokio::task::spawn_blocking(move || run_schemathesis(&bin, &base, &secret))
            .await
            .expect("join")
            .expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        // CPython 3.11.7's `ast` can fail with "AST constructor recursion depth mismatch" when
        // Hypothesis parses a module to describe a lambda (a CPython bug; scripts/test.sh builds
        // the venv on Debian's 3.11.2, which does not have it): such a run found nothing wrong
        // in the API, so it is run again, twice at most.
        let interpreter_bug = stdout.contains("AST constructor recursion depth mismatch")
            && !stdout.contains("Failures:");
        if out.status.success() || !interpreter_bug || runs == 3 {
            break;
        }
        eprintln!("schemathesis hit CPython's AST recursion bug; running it again");
    }

    server.abort();
    worker.shutdown().await.expect("worker shutdown");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems (exit {:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    // It really tested the operations, not an empty document.
    let tested: usize = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        tested >= 15,
        "schemathesis tested {tested} operations, expected every route of the API:\n{stdout}"
    );
}

fn run_schemathesis(
    bin: &std::path::Path,
    base: &str,
    secret: &str,
) -> std::io::Result<std::process::Output> {
    Command::new(bin)
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--url", base])
        .args(["--header", &format!("Authorization: Bearer {secret}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
        ])
        // The live event stream never ends by design; it has its own tests.
        .args(["--exclude-path", "/api/events"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25"])
        .args(["--workers", "2"])
        .args(["--request-timeout", "10"])
        .args(["--seed", "1"])
        .arg("--no-color")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // Its cache of examples goes beside the build, not into the source tree.
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
}
