//! A private `redis-server` for tests: started on a free port of 127.0.0.1 from the binary on
//! `PATH`, killed and restarted at will, removed when dropped.
//!
//! ```no_run
//! let server = taskq_redis::testing::RedisServer::start();
//! let url = server.url(); // redis://127.0.0.1:<port>/0
//! # let _ = url;
//! ```
//!
//! A test that needs Redis fails (it never skips) when `redis-server` is not installed, with a
//! message saying how to install it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The message a test fails with when `redis-server` is missing.
pub const INSTALL_HINT: &str = "`redis-server` was not found on PATH; the Redis tests start a \
private server from it. Install it (Debian/Ubuntu: `apt-get install -y redis-server`) and run \
the tests again";

/// A `redis-server` process of this test, on 127.0.0.1.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: Option<PathBuf>,
}

impl RedisServer {
    /// Starts a server without persistence.
    ///
    /// # Panics
    /// If `redis-server` is not installed ([`INSTALL_HINT`]) or does not start.
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// Starts a server with append-only persistence in a fresh temporary directory, so that
    /// [`restart`](Self::restart) (even after [`kill`](Self::kill)) keeps the data.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub fn start_persistent() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "taskq-redis-test-{}-{}",
            std::process::id(),
            taskq::TaskId::new()
        ));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {e}", dir.display());
        }
        Self::launch(Some(dir))
    }

    fn launch(dir: Option<PathBuf>) -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut server = Self {
                child: None,
                port,
                dir: dir.clone(),
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("could not start redis-server: {last}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .args(["--protected-mode", "yes", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match &self.dir {
            Some(dir) => {
                cmd.arg("--appendonly").arg("yes").arg("--dir").arg(dir);
            }
            None => {
                cmd.args(["--appendonly", "no"]);
            }
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
            Err(e) => return Err(format!("cannot run redis-server: {e}")),
        };
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "redis-server exited at start ({status}); port {} taken?",
                        self.port
                    ));
                }
            }
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err("redis-server did not answer PING within 15 s".to_owned())
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL (no shutdown save) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (and, if persistent, the same data).
    ///
    /// # Panics
    /// If it does not come back.
    pub fn restart(&mut self) {
        self.kill();
        let started = Instant::now();
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if started.elapsed() > Duration::from_secs(10) => {
                    panic!("redis-server did not restart: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Runs one command on a fresh connection (for tests that write into Redis directly).
    ///
    /// # Errors
    /// The connection's or the server's error.
    pub fn query(&self, args: &[&str]) -> Result<redis::Value, redis::RedisError> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_connection()?;
        let mut cmd = redis::Cmd::new();
        for a in args {
            cmd.arg(*a);
        }
        cmd.query(&mut conn)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One line of `INFO commandstats`: a command (subcommands as `config|resetstat`), how many
/// times it ran and the microseconds it took (commands called from scripts included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandStat {
    /// The command's name, lower case.
    pub name: String,
    /// How many times it ran.
    pub calls: u64,
    /// The server time it took, in microseconds.
    pub usec: u64,
}

/// Parses the text of `INFO commandstats`.
///
/// ```
/// let info = "# Commandstats\r\ncmdstat_set:calls=3,usec=12,usec_per_call=4.00\r\n";
/// let stats = taskq_redis::testing::command_stats(info);
/// assert_eq!(stats[0].name, "set");
/// assert_eq!((stats[0].calls, stats[0].usec), (3, 12));
/// ```
pub fn command_stats(info: &str) -> Vec<CommandStat> {
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |f: &str| {
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix(f))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            Some(CommandStat {
                name: name.to_owned(),
                calls: field("calls=")?,
                usec: field("usec=")?,
            })
        })
        .collect()
}

fn free_port() -> u16 {
    match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("no free port on 127.0.0.1: {e}"),
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}
