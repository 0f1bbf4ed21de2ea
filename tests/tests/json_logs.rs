//! `worker::run()` with `TASKQ_LOG=json` logs one JSON object per line, and the lines of a run,
//! the task's own `tracing` events included, carry the run's fields.
//!
//! No test harness (`harness = false`): the binary runs itself as the worker process, so that
//! every line that process writes is the worker's (a harness would print its own).

use std::process::{Command, ExitCode, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const CHILD: &str = "TASKQ_JSON_LOGS_CHILD";

#[taskq::task(name = "logs.greet", queue = "logs")]
async fn greet(name: String) -> String {
    tracing::info!(greeting = "hello", "greeting from inside the task");
    format!("hello {name}")
}

#[taskq::task(name = "logs.sync_step", queue = "logs")]
fn sync_step(n: u32) -> u32 {
    tracing::info!(n, "a sync task's own line");
    n + 1
}

#[taskq::task(name = "logs.fails", queue = "logs")]
async fn fails() -> Result<(), String> {
    Err("it had to fail".into())
}

/// The worker process: `worker::run()` on the in-memory backend, with a producer in the same
/// process; SIGTERM to itself once every result is in.
fn child() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::from(3);
        }
    };
    runtime.block_on(async {
        let producer = tokio::spawn(async {
            // Let the worker start (and install its subscriber) first.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let greeting = greet::new("json".into()).delay().await?.get().await?;
            assert_eq!(greeting, "hello json");
            assert_eq!(sync_step::new(1).delay().await?.get().await?, 2);
            assert!(fails::new().delay().await?.get().await.is_err());
            tracing::info!("producer done");
            let _ = Command::new("kill")
                .args(["-TERM", &std::process::id().to_string()])
                .status();
            Ok::<(), taskq::Error>(())
        });
        match taskq::worker::run().await {
            Ok(_) => match producer.await {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    eprintln!("producer failed: {e}");
                    ExitCode::from(4)
                }
                Err(e) => {
                    eprintln!("producer panicked: {e}");
                    ExitCode::from(4)
                }
            },
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        }
    })
}

fn run_child(log: Option<&str>) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.env(CHILD, "1")
        .env("TASKQ_QUEUES", "logs")
        .env_remove("TASKQ_URL")
        .env_remove("RUST_LOG")
        .env_remove("TASKQ_METRICS_ADDR");
    match log {
        Some(l) => cmd.env("TASKQ_LOG", l),
        None => cmd.env_remove("TASKQ_LOG"),
    };
    let started = Instant::now();
    let out = cmd.output().expect("run the worker process");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the worker process took {:?}",
        started.elapsed()
    );
    out
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn json_lines_have_the_run_fields() {
    let out = run_child(Some("json"));
    let all = lines(&out);
    assert!(
        out.status.success(),
        "the worker process failed ({}):\n{}",
        out.status,
        all.join("\n")
    );
    let parsed: Vec<Value> = all
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for (line, v) in all.iter().zip(&parsed) {
        for key in ["timestamp", "level", "message", "target"] {
            assert!(v.get(key).is_some(), "no `{key}` in {line}");
        }
    }
    let find = |message: &str, task: &str| -> &Value {
        parsed
            .iter()
            .find(|v| v["message"] == message && v["task"] == task)
            .unwrap_or_else(|| panic!("no line `{message}` of {task} in:\n{}", all.join("\n")))
    };
    let run_fields = |v: &Value, task: &str| {
        assert_eq!(v["task"], task, "{v}");
        assert_eq!(v["queue"], "logs", "{v}");
        assert_eq!(v["attempt"], 1, "{v}");
        assert!(
            v["task_id"]
                .as_str()
                .is_some_and(|id| id.parse::<taskq::TaskId>().is_ok()),
            "{v}"
        );
        assert!(
            v["worker_id"].as_str().is_some_and(|w| !w.is_empty()),
            "{v}"
        );
    };

    let done = find("task succeeded", "logs.greet");
    run_fields(done, "logs.greet");
    assert_eq!(done["level"], "INFO");
    assert!(done["duration_ms"].is_u64(), "{done}");
    assert_eq!(done["outcome"], "succeeded");

    // The task's own event carries the run's fields, for async and sync tasks alike.
    let own = find("greeting from inside the task", "logs.greet");
    run_fields(own, "logs.greet");
    assert_eq!(own["greeting"], "hello");
    assert_eq!(own["task_id"], done["task_id"]);
    let sync = find("a sync task's own line", "logs.sync_step");
    run_fields(sync, "logs.sync_step");
    assert_eq!(sync["n"], 1);

    let failed = find("task attempt failed", "logs.fails");
    run_fields(failed, "logs.fails");
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["error"], "it had to fail");
    assert_eq!(failed["kind"], "error");
    assert!(failed["duration_ms"].is_u64());

    for message in ["worker started", "worker stopped"] {
        assert!(
            parsed.iter().any(|v| v["message"] == message),
            "no `{message}` line"
        );
    }
}

fn text_lines_by_default() {
    let out = run_child(None);
    let all = lines(&out);
    assert!(out.status.success(), "{}", all.join("\n"));
    let done = all
        .iter()
        .find(|l| l.contains("task succeeded") && l.contains("logs.greet"))
        .unwrap_or_else(|| panic!("no success line in:\n{}", all.join("\n")));
    assert!(serde_json::from_str::<Value>(done).is_err(), "{done}");
    assert!(done.contains("task_id="), "{done}");
    assert!(done.contains("duration_ms="), "{done}");
}

fn a_bad_log_format_is_a_clear_error() {
    let out = run_child(Some("yaml"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TASKQ_LOG") && err.contains("yaml"), "{err}");
}

fn main() -> ExitCode {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let tests: [(&str, fn()); 3] = [
        (
            "json_lines_have_the_run_fields",
            json_lines_have_the_run_fields,
        ),
        ("text_lines_by_default", text_lines_by_default),
        (
            "a_bad_log_format_is_a_clear_error",
            a_bad_log_format_is_a_clear_error,
        ),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!("{} passed, {failed} failed", tests.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
