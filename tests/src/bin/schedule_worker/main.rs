//! A worker process for the schedule crash test: runs the scheduler loop with a one-second
//! schedule (and serves its queue) on the server `TASKQ_URL` names, until SIGTERM, Ctrl-C or
//! SIGKILL. Each run appends its task id to the Redis list `schedule:runs`, so the test can
//! count runs per tick even for a process that is killed.

use tokio::sync::OnceCell;

/// The schedule's queue.
const QUEUE: &str = "sched-crash";

static REDIS: OnceCell<Option<redis::aio::ConnectionManager>> = OnceCell::const_new();

/// One tick: its id goes to `schedule:runs`.
#[taskq::task(queue = "sched-crash")]
async fn tick(ctx: taskq::Context) -> Result<(), String> {
    let conn = REDIS
        .get_or_init(|| async {
            let url = std::env::var("TASKQ_URL").ok()?;
            let client = redis::Client::open(url).ok()?;
            redis::aio::ConnectionManager::new(client).await.ok()
        })
        .await;
    let Some(conn) = conn else {
        return Err("no redis connection".into());
    };
    let mut conn = conn.clone();
    redis::cmd("RPUSH")
        .arg("schedule:runs")
        .arg(ctx.id().to_string())
        .query_async::<i64>(&mut conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use taskq_redis as _;

    let client = taskq::Client::from_env().await?;
    let every = taskq::Schedule::every("1s")?
        .id("crash-every-second")?
        .run(tick::new())?;
    let handle = taskq::Worker::builder()
        .client(client)
        .queues([QUEUE])
        .concurrency(4)
        .schedule(every)
        .spawn()?;
    Ok(taskq_tests::serve_until_signalled(handle).await?)
}
