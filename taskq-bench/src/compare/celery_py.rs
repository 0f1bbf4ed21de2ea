//! Python Celery (the pinned version in the workspace's `.venv`), prefork and threads pools.
//! Each scenario runs `taskq-bench/python/celery_bench.py`, which drives Celery through its own
//! API and starts the worker (`celery -A celery_bench worker ...`) as its own subprocess; it
//! prints `key: value` lines, read here.

use std::collections::BTreeMap;
use std::time::Duration;

use super::run::{latency_samples, BoxError, CompareOptions, Ctx, Figures, Outcome};

async fn driver(
    ctx: &Ctx,
    args: &[String],
    deadline: Duration,
) -> Result<BTreeMap<String, String>, BoxError> {
    if !ctx.python.exists() {
        return Err(format!(
            "{} is missing: python3 -m venv .venv && .venv/bin/pip install 'celery[redis]==5.7.0'",
            ctx.python.display()
        )
        .into());
    }
    let mut cmd = tokio::process::Command::new(&ctx.python);
    cmd.arg(ctx.python_dir.join("celery_bench.py"))
        .args(args)
        .arg("--timeout")
        .arg(deadline.as_secs().to_string())
        .current_dir(&ctx.python_dir)
        .env("CELERY_BENCH_URL", &ctx.url)
        .kill_on_drop(true);
    // The driver enforces its deadline itself (and then stops its worker); this one is a
    // backstop.
    let out = match tokio::time::timeout(deadline + Duration::from_secs(60), cmd.output()).await {
        Ok(r) => r?,
        Err(_) => return Err("timeout: the Python driver did not return".into()),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = BTreeMap::new();
    for l in text.lines() {
        if let Some((k, v)) = l.split_once(": ") {
            lines.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    if !out.status.success() || lines.contains_key("error") {
        let err = lines.get("error").cloned().unwrap_or_else(|| {
            let stderr = String::from_utf8_lossy(&out.stderr);
            stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
        });
        return Err(err.into());
    }
    Ok(lines)
}

fn value(lines: &BTreeMap<String, String>, key: &str) -> Result<f64, BoxError> {
    lines
        .get(key)
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| format!("the driver printed no `{key}`").into())
}

fn outcome(r: &Result<f64, BoxError>) -> Outcome {
    match r {
        Ok(v) => Outcome::Value(*v),
        Err(e) if e.to_string().contains("timeout") => Outcome::Timeout(e.to_string()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Every scenario once with `pool` (`prefork` or `threads`).
pub async fn run(ctx: &Ctx, o: &CompareOptions, pool: &str) -> Figures {
    let n = o.python_tasks;
    let deadline = Duration::from_secs(120 + (n as u64) / 20);
    let system = format!("celery_{pool}");
    let mut f = Figures::new();
    let base = |scenario: &str, c: usize| -> Vec<String> {
        vec![
            scenario.to_owned(),
            "--pool".into(),
            pool.to_owned(),
            "--concurrency".into(),
            c.to_string(),
            "--n".into(),
            n.to_string(),
        ]
    };
    let note = |f: &mut Figures, key: &str, r: Result<f64, BoxError>| {
        if let Err(e) = &r {
            eprintln!("{system} {key}: {e}");
        }
        f.insert(key.to_owned(), outcome(&r));
    };
    let r = driver(ctx, &base("enqueue", 1), deadline).await;
    let _ = ctx.flush().await;
    note(
        &mut f,
        "enqueue_tasks_per_s",
        r.and_then(|l| value(&l, "tasks_per_s")),
    );
    let r = driver(ctx, &base("enqueue_batch", 1), deadline).await;
    let _ = ctx.flush().await;
    note(
        &mut f,
        "enqueue_batch_tasks_per_s",
        r.and_then(|l| value(&l, "tasks_per_s")),
    );
    for c in [2usize, 16] {
        let r = driver(ctx, &base("process", c), deadline).await;
        let _ = ctx.flush().await;
        match r {
            Ok(l) => {
                note(
                    &mut f,
                    &format!("process_c{c}_tasks_per_s"),
                    value(&l, "tasks_per_s"),
                );
                if c == 16 {
                    note(
                        &mut f,
                        "worker_peak_rss_mb",
                        value(&l, "worker_peak_rss_mb"),
                    );
                }
            }
            Err(e) => {
                let msg = e.to_string();
                note(
                    &mut f,
                    &format!("process_c{c}_tasks_per_s"),
                    Err(msg.clone().into()),
                );
                if c == 16 {
                    note(&mut f, "worker_peak_rss_mb", Err(msg.into()));
                }
            }
        }
    }
    let r = driver(ctx, &base("e2e", 16), deadline).await;
    let _ = ctx.flush().await;
    note(
        &mut f,
        "e2e_tasks_per_s",
        r.and_then(|l| value(&l, "tasks_per_s")),
    );
    let mut args = base("latency", 16);
    args.extend(["--samples".into(), latency_samples(o, &system).to_string()]);
    let r = driver(ctx, &args, deadline).await;
    let _ = ctx.flush().await;
    match r {
        Ok(l) => {
            note(&mut f, "latency_p50_us", value(&l, "p50_us"));
            note(&mut f, "latency_p99_us", value(&l, "p99_us"));
        }
        Err(e) => {
            let msg = e.to_string();
            note(&mut f, "latency_p50_us", Err(msg.clone().into()));
            note(&mut f, "latency_p99_us", Err(msg.into()));
        }
    }
    f
}
