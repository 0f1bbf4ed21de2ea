//! What the browser test runs on: Debian's headless Chromium driven over WebDriver
//! (`chromedriver` on a free port, a fresh profile per session), and the web server on a
//! free port of loopback.

#![allow(dead_code)]

pub mod app;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Where the screenshots go: `target/taskq-web-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("taskq-web-screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    for name in names {
        let abs = Path::new("/usr/bin").join(name);
        if abs.exists() {
            return Some(abs);
        }
        if let Some(paths) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&paths) {
                let p = dir.join(name);
                if p.exists() {
                    return Some(p);
                }
            }
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

/// A chromedriver process and one headless Chromium session on it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a Chromium session with a fresh profile. Panics with what to
    /// install when Chromium or its driver is missing: the test never skips.
    pub async fn start(width: u32, height: u32) -> Browser {
        Self::launch(width, height, None).await
    }

    /// A phone: Chromium's mobile emulation with a `width` x `height` CSS-pixel viewport at
    /// device pixel ratio 2 (touch, mobile viewport rules).
    pub async fn phone(width: u32, height: u32) -> Browser {
        let emulation = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true},
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
        });
        Self::launch(width, height, Some(emulation)).await
    }

    async fn launch(width: u32, height: u32, emulation: Option<Value>) -> Browser {
        let chromium = find_binary(&["chromium", "chromium-browser"]).unwrap_or_else(|| {
            panic!(
                "the browser test needs Debian's `chromium` (not found in /usr/bin or PATH): \
                 `apt-get install chromium chromium-driver`, or run ./scripts/test.sh, which \
                 installs them"
            )
        });
        let driver_bin = find_binary(&["chromedriver"]).unwrap_or_else(|| {
            panic!(
                "the browser test needs `chromedriver` (Debian package `chromium-driver`, not \
                 found in /usr/bin or PATH): `apt-get install chromium-driver`, or run \
                 ./scripts/test.sh, which installs it"
            )
        });
        let port = free_port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", driver_bin.display()));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!(
            "taskq-web-chromium-{}-{}",
            std::process::id(),
            port
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("create the Chromium profile directory");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={width},{height}"),
                ]
            }
        });
        let mut caps = caps;
        if let Some(e) = emulation {
            caps["goog:chromeOptions"]["mobileEmulation"] = e;
        }
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("could not start a headless Chromium session: {e}"));
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Waits up to `within` for an element matching `css`.
    pub async fn wait_css(&self, css: &str, within: Duration) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(within)
            .every(Duration::from_millis(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}` within {within:?}: {e}"))
    }

    /// Clicks the element matching `css`, finding it again if a live refresh replaced it
    /// between the find and the click.
    pub async fn click_css(&self, css: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let el = self.wait_css(css, within).await;
            match el.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("could not click `{css}`: {e}"),
            }
        }
    }

    /// Waits up to `within` until the text of the element matching `css` satisfies `check`;
    /// returns the text.
    pub async fn wait_text(
        &self,
        css: &str,
        within: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = el.text().await {
                    if check(&t) {
                        return t;
                    }
                    last = t;
                }
            }
            if Instant::now() >= deadline {
                let body = self
                    .client
                    .execute("return document.querySelector('main').innerText + '\\n--- toast: ' + document.getElementById('toast').innerText;", Vec::new())
                    .await
                    .unwrap_or_default();
                let shot = self.screenshot("failed-wait").await;
                panic!(
                    "the text of `{css}` did not become as expected within {within:?}; last: \
                     {last:?}; the page (screenshot {}): {}",
                    shot.display(),
                    body.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether an element matching `css` is on the page now.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find elements")
            .is_empty()
    }

    /// Runs `script` (a function body) and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs an async `script` whose last argument is the callback.
    pub async fn js_async(&self, script: &str) -> Value {
        self.client
            .execute_async(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{script}"))
    }

    /// Saves a PNG screenshot as `<name>.png` under [`screenshot_dir`]; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("take a screenshot");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.stop();
    }

    /// Kills the driver, and any Chromium process still running on this session's profile
    /// (a session that ended by a panic leaves its browser behind otherwise).
    fn stop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(&self.profile)
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves `router` on a free port of loopback; returns its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    format!("http://{addr}")
}
