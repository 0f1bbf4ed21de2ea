//! Real Python Celery for tests: a virtual environment with the pinned `celery[redis]`
//! (created on first use), and Python workers and scripts to run against a private
//! `redis-server` ([`RedisServer`], re-exported from `taskq-redis`).
//!
//! The environment lives in `<workspace>/.venv` (gitignored), or where `TASKQ_CELERY_VENV`
//! points. A test that needs it fails, never skips, when it cannot be created, saying why.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use taskq_redis::testing::RedisServer;

/// The pinned Python packages, one requirement per line.
pub const REQUIREMENTS: &str = include_str!("../python/requirements.txt");

/// The Python tasks module the tests and the example use (`tasks.add`, `tasks.mul`, ...).
pub const TASKS_PY: &str = include_str!("../python/celery_tasks.py");

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The virtual environment's directory.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("TASKQ_CELERY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv"))
}

/// The venv's `python`, creating the venv and installing [`REQUIREMENTS`] first if needed.
///
/// # Panics
/// With what to do, if `python3` is missing or pip cannot install the packages (no access to
/// PyPI).
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(ensure_venv) {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn ensure_venv() -> Result<PathBuf, String> {
    let dir = venv_dir();
    let python = dir.join("bin").join("python");
    let stamp = dir.join(".taskq-celery-requirements");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == REQUIREMENTS) {
        return Ok(python);
    }
    // Several test binaries may get here at once: one creates, the others wait for its lock.
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lock = dir.join(".taskq-celery-lock");
    let started = Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break,
            Err(_) if started.elapsed() < Duration::from_secs(600) => {
                std::thread::sleep(Duration::from_millis(500));
                if python.exists()
                    && std::fs::read_to_string(&stamp).is_ok_and(|s| s == REQUIREMENTS)
                {
                    return Ok(python);
                }
            }
            Err(e) => return Err(format!("cannot lock {}: {e}", lock.display())),
        }
    }
    let result = create_venv(&dir, &python, &stamp);
    let _ = std::fs::remove_file(&lock);
    result.map(|()| python)
}

fn create_venv(dir: &Path, python: &Path, stamp: &Path) -> Result<(), String> {
    if !python.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir)
            .status()
            .map_err(|e| {
                format!(
                    "cannot run `python3 -m venv` ({e}); the Celery tests need Python 3 with \
                     venv (Debian: `apt-get install -y python3 python3-venv`)"
                )
            })?;
        if !status.success() {
            return Err(format!(
                "`python3 -m venv {}` failed ({status}); install python3-venv",
                dir.display()
            ));
        }
    }
    let reqs = dir.join("taskq-celery-requirements.txt");
    std::fs::write(&reqs, REQUIREMENTS)
        .map_err(|e| format!("cannot write {}: {e}", reqs.display()))?;
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
        ])
        .arg(&reqs)
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip could not install the pinned Celery from PyPI into {} (is PyPI reachable?):\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(stamp, REQUIREMENTS)
        .map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

/// A directory with the Python tasks module, for `PYTHONPATH`.
pub fn tasks_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("taskq-celery-py-{}", std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("celery_tasks.py"), TASKS_PY))
        {
            panic!(
                "cannot write the Python tasks module to {}: {e}",
                dir.display()
            );
        }
        dir
    })
    .clone()
}

/// A Python command with the venv's interpreter, the tasks module on its path, and the broker
/// URL (`redis://...`) in `CELERY_BROKER_URL`.
pub fn python_command(redis_url: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.env("PYTHONPATH", tasks_dir())
        .env("CELERY_BROKER_URL", redis_url)
        .env("PYTHONUNBUFFERED", "1");
    cmd
}

/// Runs a Python script (with `celery_tasks` importable) and returns its standard output.
///
/// # Panics
/// If it fails, with its standard error.
pub fn run_python(redis_url: &str, script: &str) -> String {
    let out = python_command(redis_url)
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run python: {e}"));
    if !out.status.success() {
        panic!(
            "python failed ({}):\n{}\n--- stdout:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Python Celery worker process; killed when dropped.
#[derive(Debug)]
pub struct PythonWorker {
    child: Option<Child>,
    log: PathBuf,
}

impl PythonWorker {
    /// Starts `celery -A celery_tasks worker` on `queues` with the solo pool (one task at a
    /// time), and waits until it consumes.
    ///
    /// # Panics
    /// If it does not start within 60 s.
    pub fn start(redis_url: &str, queues: &str, extra_env: &[(&str, &str)]) -> Self {
        Self::start_with(redis_url, queues, &["--pool=solo"], extra_env)
    }

    /// Like [`start`](Self::start), with other worker options (`--pool=prefork`, `-c 2`, ...)
    /// instead of `--pool=solo`.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub fn start_with(
        redis_url: &str,
        queues: &str,
        options: &[&str],
        extra_env: &[(&str, &str)],
    ) -> Self {
        let log = std::env::temp_dir().join(format!(
            "taskq-celery-worker-{}-{}.log",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = file
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone a file handle: {e}"));
        let mut cmd = python_command(redis_url);
        cmd.args([
            "-m",
            "celery",
            "-A",
            "celery_tasks",
            "worker",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
            "-Q",
            queues,
            "-n",
        ])
        .arg(format!("py-{}@localhost", uuid::Uuid::new_v4().simple()))
        .args(options)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start a Celery worker: {e}"));
        let worker = Self {
            child: Some(child),
            log,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if worker.log().contains("ready.") {
                return worker;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the Celery worker did not start:\n{}", worker.log());
    }

    /// What the worker logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PythonWorker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
