//! The REST API and dashboard of `taskq-web`, serving two tasks, with a worker in the same
//! process (in production the worker is its own binary).
//!
//! ```text
//! TASKQ_URL=redis://127.0.0.1:6379/0 TASKQ_WEB_ADDR=127.0.0.1:8080 \
//!     cargo run -p taskq-examples --example web
//! # prints an admin token when TASKQ_WEB_TOKENS / TASKQ_WEB_TOKENS_FILE configure none, then:
//! curl -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
//!     -d '{"a": 2, "b": 3}' http://127.0.0.1:8080/api/tasks/web.add
//! ```
//!
//! The API's documentation is at http://127.0.0.1:8080/docs, the dashboard at /.

/// Adds two numbers.
#[taskq::task(name = "web.add", retries = 2)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Greets someone, loudly if asked.
#[taskq::task(name = "web.greet", queue = "greetings")]
async fn greet(name: String, loud: Option<bool>) -> String {
    let text = format!("Hello, {name}!");
    if loud.unwrap_or(false) {
        text.to_uppercase()
    } else {
        text
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let format = std::env::var(taskq::telemetry::LOG_ENV)
        .unwrap_or_default()
        .parse::<taskq::telemetry::LogFormat>()?;
    taskq::telemetry::init_logs(format);
    let client = taskq::Client::global().await?;
    let mut config = taskq_web::WebConfig::from_env()?.client(client.clone());
    if std::env::var_os(taskq_web::token::TOKENS_ENV).is_none()
        && std::env::var_os(taskq_web::token::TOKENS_FILE_ENV).is_none()
    {
        let (secret, line) = taskq_web::token::create(taskq_web::Role::Admin)?;
        eprintln!("no tokens configured: an admin token for this run is\n\n    {secret}\n\n(its config line: {line})");
        config = config.token_lines(&line)?;
    }
    let worker = taskq::Worker::builder()
        .client(client)
        .queues(["default", "greetings"])
        .spawn()?;
    let addr = std::env::var(taskq_web::ADDR_ENV)
        .unwrap_or_else(|_| taskq_web::DEFAULT_ADDR.to_owned())
        .parse()?;
    taskq_web::serve_router(config.router().await?, addr).await?;
    worker.shutdown().await?;
    Ok(())
}
