//! `taskq-bench --web`: the REST API of `taskq-web` on the memory backend, in this process,
//! under a closed-loop load over loopback ([`loadgen`]).
//!
//! Two scenarios, each printed as `key: value`:
//! - submit: `POST /api/tasks/bench.web_add` with `{"a": n, "b": 1}`: the body is validated
//!   against the task's JSON Schema, decoded and enqueued;
//! - status: `GET /api/tasks/{id}` of tasks that ran, read back from the backend.
//!
//! The server gets a runtime of two threads, the load generator the harness's one thread: the
//! same split as `wrk -t1` beside a two-thread server on this two-core machine.

mod loadgen;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use taskq::{Client, TaskId};

use crate::Options;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The submitted task: as small as a task gets, so the figure is the API's cost.
#[taskq::task(name = "bench.web_add", queue = "bench_web")]
async fn web_add(a: i64, b: i64) -> i64 {
    a + b
}

fn line(key: &str, value: impl std::fmt::Display) {
    println!("{key}: {value}");
}

/// Runs both scenarios.
pub async fn run(options: &Options) -> Result<(), BoxError> {
    let client = Client::memory();
    let (secret, hash_line) = taskq_web::token::create(taskq_web::Role::Operator)?;
    let router = taskq_web::WebConfig::new()
        .token_lines(&hash_line)?
        .router_on(client.clone())?;

    // The server on its own runtime, on its own thread.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("web-server")
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        })
    });

    let connections = options.web_connections;
    let measure = Duration::from_secs_f64(options.web_seconds);
    let warmup = Duration::from_millis(500);
    line("backend", "memory");
    line("web_connections", connections);
    line("web_measure_s", options.web_seconds);

    // Submit.
    let auth = Arc::<str>::from(format!("Bearer {secret}"));
    let submit = {
        let auth = auth.clone();
        move |_conn: usize, n: u64| {
            let body = format!("{{\"a\":{n},\"b\":1}}");
            request(
                Method::POST,
                "/api/tasks/bench.web_add",
                &auth,
                Bytes::from(body),
            )
        }
    };
    let report = loadgen::run(
        addr,
        connections,
        warmup,
        measure,
        StatusCode::ACCEPTED,
        submit,
    )
    .await?;
    print_report("web_submit", &report);

    // Run what was submitted, so the status reads see finished tasks with results.
    let queued = client.backend().queue_stats("bench_web").await?.ready;
    let worker = taskq::Worker::builder()
        .client(client.clone())
        .queues(["bench_web"])
        .concurrency(64)
        .spawn()?;
    let drained = Instant::now();
    while client.backend().queue_stats("bench_web").await?.ready > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.shutdown().await?;
    line("web_tasks_run", queued);
    line(
        "web_drain_s",
        format!("{:.2}", drained.elapsed().as_secs_f64()),
    );

    // Status of tasks that ran: ids from the backend, so every read finds one.
    let ids: Vec<TaskId> = finished_ids(&client, 10_000).await?;
    if ids.is_empty() {
        return Err("no finished task to read the status of".into());
    }
    let ids: Arc<[String]> = ids.iter().map(|id| id.to_string()).collect();
    let status = move |conn: usize, n: u64| {
        let i = (n as usize).wrapping_mul(7919).wrapping_add(conn) % ids.len();
        let path = format!("/api/tasks/{}", ids[i]);
        request(Method::GET, &path, &auth, Bytes::new())
    };
    let report = loadgen::run(addr, connections, warmup, measure, StatusCode::OK, status).await?;
    print_report("web_status", &report);

    let _ = stop.send(());
    match tokio::task::spawn_blocking(move || server.join()).await? {
        Ok(result) => result?,
        Err(_) => return Err("the web server's thread panicked".into()),
    }
    Ok(())
}

/// Ids of tasks that finished, from the memory backend's event log.
async fn finished_ids(client: &Client, max: usize) -> Result<Vec<TaskId>, BoxError> {
    let queues = vec!["bench_web".to_owned()];
    let mut after = taskq::events::EventCursor::default();
    let mut ids = Vec::new();
    while ids.len() < max {
        let read = taskq::events::EventRead {
            queues: &queues,
            after: &after,
            max: 4096,
            wait: Duration::ZERO,
        };
        let batch = client.backend().read_events(read).await?;
        let Some(last) = batch.last() else { break };
        after.advance(last);
        ids.extend(
            batch
                .iter()
                .filter(|e| e.event.kind == taskq::events::EventKind::Succeeded)
                .map(|e| e.event.id),
        );
    }
    ids.truncate(max);
    Ok(ids)
}

fn request(method: Method, path: &str, auth: &str, body: Bytes) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "127.0.0.1")
        .header(hyper::header::AUTHORIZATION, auth);
    if !body.is_empty() {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    // The parts are all valid: a fixed method, a path of ASCII, header values of ASCII.
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
}

fn print_report(prefix: &str, r: &loadgen::Report) {
    line(
        &format!("{prefix}_requests_per_s"),
        format!("{:.0}", r.requests_per_s),
    );
    line(
        &format!("{prefix}_p50_ms"),
        format!("{:.3}", r.p50_us as f64 / 1000.0),
    );
    line(
        &format!("{prefix}_p99_ms"),
        format!("{:.3}", r.p99_us as f64 / 1000.0),
    );
    line(&format!("{prefix}_requests"), r.requests);
    line(&format!("{prefix}_errors"), r.errors);
}
