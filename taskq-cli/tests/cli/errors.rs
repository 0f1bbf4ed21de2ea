//! Bad input gets one line on stderr and exit status 2; an unknown id gets 1.

use std::time::{Duration, Instant};

use taskq::TaskId;
use taskq_redis::testing::RedisServer;

use crate::harness::{taskq, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_id_exits_with_1() {
    let env = Env::start().await;
    let id = TaskId::new().to_string();
    for cmd in ["result", "inspect", "revoke"] {
        let run = env.taskq(&[cmd, &id]).await;
        let line = run.fails(1);
        assert!(line.contains(&id), "{cmd}: {line}");
        assert!(line.contains("no task"), "{cmd}: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_exits_with_2_naming_the_url() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.kill();
    let started = Instant::now();
    let run = taskq(&["queues", "--url", &url]).await;
    let line = run.fails(2);
    assert!(line.contains(&url), "{line}");
    assert!(line.contains("cannot reach"), "{line}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    // The same through TASKQ_URL, and for a command that acts.
    let id = TaskId::new().to_string();
    let run = crate::harness::taskq_with_env(&["revoke", &id], &url).await;
    assert!(run.fails(2).contains(&url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_url_exits_with_2() {
    for (url, says) in [
        ("localhost:6379", "expected `scheme://...`"),
        ("redis://127.0.0.1:notaport/0", "malformed URL"),
        ("nats://127.0.0.1:4222", "no backend handles `nats://`"),
        ("://nothing", "the scheme before `://`"),
    ] {
        let run = taskq(&["queues", "--url", url]).await;
        let line = run.fails(2);
        assert!(line.contains("malformed URL"), "{url}: {line}");
        assert!(line.contains(says), "{url}: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_url_exits_with_2_and_says_how_to_give_one() {
    let run = taskq(&["queues"]).await;
    let line = run.fails(2);
    assert!(line.contains("TASKQ_URL"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_arguments_exit_with_2_and_send_nothing() {
    let env = Env::start().await;
    for (args, says) in [
        ("{\"a\": 1", "EOF while parsing"),
        ("{a: 1}", "key must be a string"),
        ("42", "not a number"),
        ("\"text\"", "not a string"),
    ] {
        let run = env
            .taskq(&["send", "cli.add", "--queue", "cli", "--args", args])
            .await;
        let line = run.fails(2);
        assert!(line.contains("invalid JSON arguments"), "{args}: {line}");
        assert!(line.contains(says), "{args}: {line}");
    }
    let run = env.taskq(&["start-workflow", "cli.summed", "{n: 1}"]).await;
    assert!(run.fails(2).contains("invalid JSON arguments"));
    let stats = env.client.backend().queue_stats("cli").await.unwrap();
    assert_eq!(stats.ready + stats.delayed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_and_durations_are_usage_errors() {
    let env = Env::start().await;
    let run = env.taskq(&["result", "not-an-id"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not a task id"), "{run:#?}");
    let run = env.taskq(&["send", "cli.add", "--countdown", "10"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("has no unit; write `10s`"), "{run:#?}");
    let run = env.taskq(&["tasks", "cli", "--state", "running"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown state `running`"), "{run:#?}");
}
