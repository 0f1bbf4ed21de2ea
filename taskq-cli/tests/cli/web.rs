//! `taskq token create` and `taskq web`: the API served by the CLI binary, which links no
//! task, against the private Redis, with the task run by this process's worker.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fixture::QUEUE;
use crate::harness::{taskq, Env};

/// A `taskq web` process, killed when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(url: &str, tokens: &str) -> Served {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_taskq"))
        .args(["--url", url, "web", "--addr", &format!("127.0.0.1:{port}")])
        .env("TASKQ_WEB_TOKENS", tokens)
        .env_remove(taskq::URL_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{}/healthz", served.base)).send().await {
            if r.status().is_success() {
                return served;
            }
        }
        assert!(Instant::now() < deadline, "`taskq web` did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_a_secret_and_a_line_that_does_not_contain_it() {
    let run = taskq(&["token", "create", "--role", "operator", "--json"])
        .await
        .ok();
    let v = run.json();
    let (secret, line) = (v["secret"].as_str().unwrap(), v["line"].as_str().unwrap());
    assert!(secret.starts_with("tq_"), "{secret}");
    assert_eq!(line.split(' ').nth(1), Some("operator"));
    assert!(!line.contains(secret));
    // A role that does not exist is a usage error.
    let bad = taskq(&["token", "create", "--role", "root"]).await;
    assert_eq!(bad.code, 2, "{bad:#?}");
    assert!(bad.stderr.contains("root"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_serves_the_api_for_tasks_it_does_not_link() {
    let env = Env::start().await;
    let worker = env.worker(&[QUEUE]).await;
    let operator = taskq(&["token", "create", "--role", "operator", "--json"])
        .await
        .ok()
        .json();
    let viewer = taskq(&["token", "create", "--role", "viewer", "--json"])
        .await
        .ok()
        .json();
    let lines = format!(
        "{}\n{}",
        operator["line"].as_str().unwrap(),
        viewer["line"].as_str().unwrap()
    );
    let served = serve(&env.url, &lines).await;
    let http = reqwest::Client::new();
    let bearer = |v: &Value| format!("Bearer {}", v["secret"].as_str().unwrap());

    // Without a token: 401; a viewer may not submit: 403.
    let body = json!({ "task": "cli.add", "a": 2, "b": 40, "options": { "queue": QUEUE } });
    let r = http
        .post(format!("{}/api/tasks", served.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{}/api/tasks", served.base))
        .header("authorization", bearer(&viewer))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The CLI links no task: the name is taken as given, the arguments as any JSON object,
    // and the worker that has the task runs it.
    let r = http
        .post(format!("{}/api/tasks", served.base))
        .header("authorization", bearer(&operator))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let done: Value = http
        .get(format!("{}{location}?wait=10s", served.base))
        .header("authorization", bearer(&viewer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"], 42, "{done}");
    // The arguments are kept with the result, after the message is gone.
    assert_eq!(done["arguments"], json!({ "a": 2, "b": 40 }), "{done}");
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_with_a_bad_address_or_token_line_says_so() {
    let env = Env::start().await;
    let run = env.taskq(&["web", "--addr", "localhost:eighty"]).await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("--addr"), "{}", run.stderr);

    let out = tokio::task::spawn_blocking({
        let url = env.url.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_taskq"))
                .args(["--url", &url, "web", "--addr", "127.0.0.1:0"])
                .env("TASKQ_WEB_TOKENS", "not a token line")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("token line 1"), "{stderr}");
}
